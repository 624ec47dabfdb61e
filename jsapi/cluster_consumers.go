package jsapi

import (
	"encoding/json"
	"strings"

	"github.com/midgemq/midge/jetstore"
)

// Consumer requests in a cluster: consumers run on their stream's leader.

func (api *jsAPI) clusterConsumerRequest(tokens []string, req apiRequest) any {
	switch {
	case len(tokens) >= 2 && tokens[0] == "CREATE":
		name, filter := "", ""
		if len(tokens) >= 3 {
			name = tokens[2]
		}
		if len(tokens) >= 4 {
			filter = strings.Join(tokens[3:], ".")
		}
		return api.onStreamLeader(tokens[1], req, "consumer_create_response", func(v *StreamView) any {
			return api.clusterConsumerCreate(v, name, filter, false, req)
		})
	case len(tokens) == 4 && tokens[0] == "DURABLE" && tokens[1] == "CREATE":
		return api.onStreamLeader(tokens[2], req, "consumer_create_response", func(v *StreamView) any {
			return api.clusterConsumerCreate(v, tokens[3], "", true, req)
		})
	case len(tokens) == 3 && tokens[0] == "INFO":
		return api.onStreamLeader(tokens[1], req, "consumer_info_response", func(v *StreamView) any {
			resp := &consumerInfoResponse{apiResponse: newResponse("consumer_info_response")}
			c, err := v.Stream.Consumer(tokens[2])
			if err != nil {
				resp.Error = toAPIError(err)
				return resp
			}
			resp.ConsumerInfo = api.clusterConsumerInfo(v, c)
			return resp
		})
	case len(tokens) == 3 && tokens[0] == "DELETE":
		return api.onStreamLeader(tokens[1], req, "consumer_delete_response", func(v *StreamView) any {
			resp := &successResponse{apiResponse: newResponse("consumer_delete_response")}
			if err := api.ja.js.cluster.DeleteConsumer(api.ja.acc, v.Config.Name, tokens[2]); err != nil {
				resp.Error = toAPIError(err)
				return resp
			}
			resp.Success = true
			return resp
		})
	case len(tokens) == 2 && (tokens[0] == "NAMES" || tokens[0] == "LIST"):
		list := tokens[0] == "LIST"
		suffix := "consumer_names_response"
		if list {
			suffix = "consumer_list_response"
		}
		return api.onStreamLeader(tokens[1], req, suffix, func(v *StreamView) any { return api.clusterConsumerList(v, list, req) })
	}
	return nil
}

func (api *jsAPI) clusterConsumerCreate(v *StreamView, name, filter string, legacyDurable bool, req apiRequest) any {
	resp := &consumerInfoResponse{apiResponse: newResponse("consumer_create_response")}
	var r createConsumerRequest
	if err := json.Unmarshal(req.body, &r); err != nil {
		resp.Error = errInvalidJSON(err)
		return resp
	}
	cfg := r.Config
	switch {
	case r.Stream != v.Config.Name:
		resp.Error = jsErrStreamNameMismatch
	case legacyDurable && cfg.Durable == "":
		resp.Error = jsErrDurableNotInSubject
	case cfg.Durable != "" && name != "" && cfg.Durable != name:
		resp.Error = jsErrDurableNameMismatch
	case cfg.Name != "" && name != "" && cfg.Name != name:
		resp.Error = jsErrConsumerNameMismatch
	case filter != "" && (len(cfg.FilterSubjects) > 0 || cfg.FilterSubject != filter):
		resp.Error = jsErrFilterMismatch
	}
	if resp.Error != nil {
		return resp
	}
	if cfg.Name == "" {
		cfg.Name = name
	}
	c, err := api.ja.js.cluster.AddConsumer(api.ja.acc, v.Config.Name, cfg, r.Action)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.ConsumerInfo = api.clusterConsumerInfo(v, c)
	return resp
}

// clusterConsumerInfo is a consumer's info with its replicated
// configuration.
func (api *jsAPI) clusterConsumerInfo(v *StreamView, c *jetstore.Consumer) *jetstore.ConsumerInfo {
	info := c.Info()
	if cfg, ok := api.ja.js.cluster.ConsumerConfig(api.ja.acc, v.Config.Name, c.Name()); ok {
		info.Config = cfg
	}
	return &info
}

func (api *jsAPI) clusterConsumerList(v *StreamView, list bool, req apiRequest) any {
	var r namesRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp := newResponse("consumer_names_response")
		resp.Error = e
		return &resp
	}
	all := v.Stream.Consumers()
	limit := consumerNamesLimit
	if list {
		limit = consumerListLimit
	}
	offset := min(max(r.Offset, 0), len(all))
	page := all[offset:min(len(all), offset+limit)]
	if list {
		resp := &consumerListResponse{apiResponse: newResponse("consumer_list_response"), Limit: limit,
			Consumers: []*jetstore.ConsumerInfo{}, Total: len(all), Offset: offset}
		for _, c := range page {
			resp.Consumers = append(resp.Consumers, api.clusterConsumerInfo(v, c))
		}
		return resp
	}
	resp := &consumerNamesResponse{apiResponse: newResponse("consumer_names_response"), Limit: limit,
		Consumers: []string{}, Total: len(all), Offset: offset}
	for _, c := range page {
		resp.Consumers = append(resp.Consumers, c.Name())
	}
	return resp
}
