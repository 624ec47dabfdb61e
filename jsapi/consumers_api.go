package jsapi

import (
	"encoding/json"
	"strings"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// Consumer API handlers: $JS.API.CONSUMER.*.

type consumerInfoResponse struct {
	apiResponse
	*jetstore.ConsumerInfo
}

type consumerNamesResponse struct {
	apiResponse
	Total     int      `json:"total"`
	Offset    int      `json:"offset"`
	Limit     int      `json:"limit"`
	Consumers []string `json:"consumers"`
}

type consumerListResponse struct {
	apiResponse
	Total     int                      `json:"total"`
	Offset    int                      `json:"offset"`
	Limit     int                      `json:"limit"`
	Consumers []*jetstore.ConsumerInfo `json:"consumers"`
}

// createConsumerRequest is CONSUMER.CREATE's body.
type createConsumerRequest struct {
	Stream string                  `json:"stream_name"`
	Config jetstore.ConsumerConfig `json:"config"`
	Action string                  `json:"action"`
	// Pedantic refuses a configuration the server would adjust.
	Pedantic bool `json:"pedantic"`
}

const (
	consumerNamesLimit = 1024
	consumerListLimit  = 256
)

func (api *jsAPI) consumerRequest(tokens []string, req apiRequest) any {
	switch {
	case len(tokens) >= 2 && tokens[0] == "CREATE":
		// CREATE.<s> (legacy ephemeral), CREATE.<s>.<c>, CREATE.<s>.<c>.<filter...>
		name, filter := "", ""
		if len(tokens) >= 3 {
			name = tokens[2]
		}
		if len(tokens) >= 4 {
			filter = strings.Join(tokens[3:], ".")
		}
		return api.consumerCreate(tokens[1], name, filter, false, req)
	case len(tokens) == 4 && tokens[0] == "DURABLE" && tokens[1] == "CREATE":
		return api.consumerCreate(tokens[2], tokens[3], "", true, req)
	case len(tokens) == 3 && tokens[0] == "INFO":
		return api.consumerInfo(tokens[1], tokens[2])
	case len(tokens) == 3 && tokens[0] == "DELETE":
		return api.consumerDelete(tokens[1], tokens[2])
	case len(tokens) == 2 && tokens[0] == "NAMES":
		return api.consumerNames(tokens[1], req)
	case len(tokens) == 2 && tokens[0] == "LIST":
		return api.consumerList(tokens[1], req)
	case len(tokens) == 3 && tokens[0] == "PAUSE":
		return api.consumerPause(tokens[1], tokens[2], req)
	case len(tokens) == 3 && tokens[0] == "UNPIN":
		return api.consumerUnpin(tokens[1], tokens[2], req)
	}
	return nil
}

func (api *jsAPI) consumerCreate(stream, name, filter string, legacyDurable bool, req apiRequest) any {
	resp := &consumerInfoResponse{apiResponse: newResponse("consumer_create_response")}
	var r createConsumerRequest
	if e := strictConsumerRequest(req.body); e != nil {
		resp.Error = e
		return resp
	}
	if err := json.Unmarshal(req.body, &r); err != nil {
		resp.Error = errInvalidJSON(err)
		return resp
	}
	if r.Stream != stream {
		resp.Error = jsErrStreamNameMismatch
		return resp
	}
	cfg := r.Config
	if cfg.Replicas > 1 {
		// Checked before the stream, as the reference server does on a
		// single server.
		resp.Error = jsErrReplicasNotSupported
		return resp
	}
	st, err := api.ja.store.Stream(stream)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	switch {
	case legacyDurable && cfg.Durable == "":
		resp.Error = jsErrDurableNotInSubject
		return resp
	case cfg.Durable != "" && name != "" && cfg.Durable != name:
		resp.Error = jsErrDurableNameMismatch
		return resp
	case cfg.Name != "" && name != "" && cfg.Name != name:
		resp.Error = jsErrConsumerNameMismatch
		return resp
	case filter != "" && len(cfg.FilterSubjects) > 0:
		resp.Error = jsErrFiltersBySubject
		return resp
	case filter != "" && cfg.FilterSubject != filter:
		resp.Error = jsErrFilterMismatch
		return resp
	}
	if cfg.Name == "" {
		cfg.Name = name
	}
	scfg := st.Config()
	if e := checkConsumerRequest(&cfg, &scfg, r.Pedantic); e != nil {
		resp.Error = e
		return resp
	}
	c, created, err := st.AddConsumer(cfg, r.Action)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	if created {
		api.ja.adviseConsumer(stream, c.Name(), actionCreate)
	}
	info := consumerInfo(c)
	resp.ConsumerInfo = &info
	return resp
}

func (api *jsAPI) lookupConsumer(stream, name string) (*jetstore.Consumer, *apiError) {
	st, err := api.ja.store.Stream(stream)
	if err != nil {
		return nil, toAPIError(err)
	}
	c, err := st.Consumer(name)
	if err != nil {
		return nil, toAPIError(err)
	}
	return c, nil
}

func (api *jsAPI) consumerInfo(stream, name string) any {
	resp := &consumerInfoResponse{apiResponse: newResponse("consumer_info_response")}
	c, e := api.lookupConsumer(stream, name)
	if e != nil {
		resp.Error = e
		return resp
	}
	info := consumerInfo(c)
	resp.ConsumerInfo = &info
	return resp
}

func (api *jsAPI) consumerDelete(stream, name string) any {
	resp := &successResponse{apiResponse: newResponse("consumer_delete_response")}
	st, err := api.ja.store.Stream(stream)
	if err == nil {
		err = st.DeleteConsumer(name)
	}
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success = true
	return resp
}

// pagedConsumers returns a stream's consumers and one page of them.
func (api *jsAPI) pagedConsumers(stream string, req apiRequest, limit int) ([]*jetstore.Consumer, []*jetstore.Consumer, int, *apiError) {
	var r namesRequest
	if e := decodeBody(req.body, &r); e != nil {
		return nil, nil, 0, e
	}
	st, err := api.ja.store.Stream(stream)
	if err != nil {
		return nil, nil, 0, toAPIError(err)
	}
	all := st.Consumers()
	offset := min(max(r.Offset, 0), len(all))
	return all, all[offset:min(len(all), offset+limit)], offset, nil
}

func (api *jsAPI) consumerNames(stream string, req apiRequest) any {
	resp := &consumerNamesResponse{apiResponse: newResponse("consumer_names_response"), Limit: consumerNamesLimit, Consumers: []string{}}
	all, page, offset, e := api.pagedConsumers(stream, req, consumerNamesLimit)
	if e != nil {
		resp.Error = e
		return resp
	}
	resp.Total, resp.Offset = len(all), offset
	for _, c := range page {
		resp.Consumers = append(resp.Consumers, c.Name())
	}
	return resp
}

func (api *jsAPI) consumerList(stream string, req apiRequest) any {
	resp := &consumerListResponse{apiResponse: newResponse("consumer_list_response"), Limit: consumerListLimit, Consumers: []*jetstore.ConsumerInfo{}}
	all, page, offset, e := api.pagedConsumers(stream, req, consumerListLimit)
	if e != nil {
		resp.Error = e
		return resp
	}
	resp.Total, resp.Offset = len(all), offset
	for _, c := range page {
		info := consumerInfo(c)
		resp.Consumers = append(resp.Consumers, &info)
	}
	return resp
}

// consumerInfo is a consumer's info as clients receive it: with the
// server's keys in its metadata.
func consumerInfo(c *jetstore.Consumer) jetstore.ConsumerInfo {
	info := c.Info()
	info.Config.Metadata = jetstore.WithServerMetadata(info.Config.Metadata, info.Config.RequiredLevel(), jsAPILevel, broker.ProtocolVersion)
	return info
}
