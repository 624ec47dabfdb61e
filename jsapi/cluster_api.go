package jsapi

import (
	"encoding/json"
	"slices"
	"strings"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/sublist"
)

// The API handlers of a cluster (see cluster.go): each request is either
// handled here, because this server leads what it is about, or forwarded
// to the server that does, which answers the client.

// clusterDispatch routes a request in cluster mode by its subject tokens
// after $JS.API.
func (api *jsAPI) clusterDispatch(tokens []string, req apiRequest, pub *broker.Publisher) any {
	switch {
	case len(tokens) == 1 && tokens[0] == "INFO":
		return api.clusterAccountInfo()
	case tokens[0] == "STREAM" && len(tokens) == 2 && (tokens[1] == "NAMES" || tokens[1] == "LIST"):
		return api.onMetaLeader(req, func() any { return api.clusterStreamList(tokens[1] == "LIST", req) })
	case tokens[0] == "STREAM" && len(tokens) == 3:
		name := tokens[2]
		switch tokens[1] {
		case "CREATE", "UPDATE":
			return api.onMetaLeader(req, func() any { return api.clusterStreamCreate(name, req, tokens[1] == "UPDATE") })
		case "DELETE":
			return api.onMetaLeader(req, func() any { return api.clusterStreamDelete(name) })
		case "INFO":
			return api.onStreamLeader(name, req, "stream_info_response", func(v *StreamView) any { return api.clusterStreamInfo(v, req) })
		case "PURGE":
			return api.onStreamLeader(name, req, "stream_purge_response", func(v *StreamView) any { return api.clusterPurge(v, req) })
		}
	case tokens[0] == "STREAM" && len(tokens) == 4 && tokens[1] == "MSG":
		name := tokens[3]
		switch tokens[2] {
		case "GET":
			return api.onStreamLeader(name, req, "stream_msg_get_response", func(v *StreamView) any { return api.clusterMsgGet(v, req) })
		case "DELETE":
			return api.onStreamLeader(name, req, "stream_msg_delete_response", func(v *StreamView) any { return api.clusterMsgDelete(v, req) })
		}
	case tokens[0] == "STREAM" && len(tokens) == 4 && tokens[1] == "PEER" && tokens[2] == "REMOVE":
		return api.onMetaLeader(req, func() any { return api.clusterRemovePeer(tokens[3], req) })
	case tokens[0] == "STREAM" && len(tokens) == 4 && tokens[1] == "LEADER" && tokens[2] == "STEPDOWN":
		return api.onStreamLeader(tokens[3], req, "stream_leader_stepdown_response", func(v *StreamView) any {
			resp := &successResponse{apiResponse: newResponse("stream_leader_stepdown_response")}
			// The reference server's request: {"placement":{"preferred":"name"}}.
			var body struct {
				Placement *struct {
					Preferred string `json:"preferred"`
				} `json:"placement"`
			}
			if e := decodeBody(req.body, &body); e != nil {
				resp.Error = e
				return resp
			}
			preferred := ""
			if body.Placement != nil {
				preferred = body.Placement.Preferred
			}
			if err := api.ja.js.cluster.StepDown(api.ja.acc, v.Config.Name, preferred); err != nil {
				resp.Error = toAPIError(err)
			} else {
				resp.Success = true
			}
			return resp
		})
	case tokens[0] == "CONSUMER":
		return api.clusterConsumerRequest(tokens[1:], req)
	case tokens[0] == "DIRECT" && len(tokens) >= 3 && tokens[1] == "GET":
		// Subscribed on the stream's leader only: this is (or was) the
		// leader. It answers from its copy only once a read barrier
		// confirms it still leads and has applied everything committed;
		// otherwise it says nothing and the client asks again. The
		// barrier takes a heartbeat round, so it is waited for off the
		// API workers.
		name, subject := tokens[2], strings.Join(tokens[3:], ".")
		select {
		case api.readWaits <- struct{}{}:
		default:
			return nil // too many reads waiting already
		}
		go func() {
			defer func() { <-api.readWaits }()
			if api.ja.js.cluster.ReadBarrier(api.ja.acc, name) != nil {
				return
			}
			api.directGet(name, subject, req, pub)
		}()
		return nil
	}
	return nil
}

// onMetaLeader runs fn on the meta leader, or forwards the request there.
func (api *jsAPI) onMetaLeader(req apiRequest, fn func() any) any {
	if api.ja.js.cluster.IsMetaLeader() {
		return fn()
	}
	return api.forward(req, "", "api_response")
}

// onStreamLeader runs fn on the stream's leader, or forwards the request
// there; suffix types the error answer when neither is possible.
func (api *jsAPI) onStreamLeader(name string, req apiRequest, suffix string, fn func(*StreamView) any) any {
	c := api.ja.js.cluster
	v, known := c.Stream(api.ja.acc, name)
	if v == nil && !known {
		// Only the meta leader, once it has applied everything
		// committed, may say that a stream does not exist: this server's
		// view may be behind (it just restarted, or it is cut off).
		if !c.IsMetaLeader() {
			return api.forward(req, "", suffix)
		}
		if err := c.MetaReadBarrier(); err != nil {
			resp := newResponse(suffix)
			resp.Error = jsErrClusterUnavailable
			return &resp
		}
		v, known = c.Stream(api.ja.acc, name)
	}
	switch {
	case v != nil:
		return fn(v)
	case known:
		return api.forward(req, name, suffix)
	}
	resp := newResponse(suffix)
	resp.Error = jsErrStreamNotFound
	return &resp
}

func (api *jsAPI) forward(req apiRequest, stream, suffix string) any {
	fr := ForwardedRequest{Subject: req.subject, Reply: req.reply, Header: req.hdr, Body: req.body, Hops: req.hops + 1}
	if req.hops < maxForwardHops && api.ja.js.cluster.Forward(api.ja.acc, stream, fr) {
		return nil // the server that handles it answers
	}
	resp := newResponse(suffix)
	resp.Error = jsErrClusterUnavailable
	return &resp
}

func (api *jsAPI) clusterAccountInfo() any {
	resp := api.accountInfo().(*accountInfoResponse)
	resp.Streams = len(api.ja.js.cluster.Streams(api.ja.acc))
	return resp
}

func (api *jsAPI) clusterStreamCreate(name string, req apiRequest, update bool) any {
	suffix := "stream_create_response"
	if update {
		suffix = "stream_update_response"
	}
	resp := &streamInfoResponse{apiResponse: newResponse(suffix)}
	var cfg jetstore.StreamConfig
	if len(req.body) == 0 {
		resp.Error = jsErrStreamNameMismatch
		return resp
	}
	if err := json.Unmarshal(req.body, &cfg); err != nil {
		resp.Error = errInvalidJSON(err)
		return resp
	}
	if cfg.Name != name {
		resp.Error = jsErrStreamNameMismatch
		return resp
	}
	c := api.ja.js.cluster
	var exists bool
	var err error
	if update {
		exists, err = c.UpdateStream(api.ja.acc, cfg, string(req.reply))
	} else {
		exists, err = c.CreateStream(api.ja.acc, cfg, string(req.reply))
	}
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	if !exists {
		return nil // the stream's leader answers once it is ready
	}
	// The same stream exists: its leader answers with its info.
	req.subject, req.body = jsAPIPrefix+"STREAM.INFO."+name, nil
	return api.onStreamLeader(name, req, suffix, func(v *StreamView) any {
		resp.streamInfo = api.ja.viewInfo(v, "", false)
		return resp
	})
}

// clusterRemovePeer takes a server out of a stream's placement (the
// reference server's request: {"peer":"<server name>"}); another server
// takes its place.
func (api *jsAPI) clusterRemovePeer(name string, req apiRequest) any {
	resp := &successResponse{apiResponse: newResponse("stream_remove_peer_response")}
	var body struct {
		Peer string `json:"peer"`
	}
	if e := decodeBody(req.body, &body); e != nil {
		resp.Error = e
		return resp
	}
	if body.Peer == "" {
		resp.Error = jsErrPeerNotMember
		return resp
	}
	if err := api.ja.js.cluster.RemovePeer(api.ja.acc, name, body.Peer); err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success = true
	return resp
}

func (api *jsAPI) clusterStreamDelete(name string) any {
	resp := &successResponse{apiResponse: newResponse("stream_delete_response")}
	if err := api.ja.js.cluster.DeleteStream(api.ja.acc, name); err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success = true
	return resp
}

func (api *jsAPI) clusterStreamList(list bool, req apiRequest) any {
	var r namesRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp := newResponse("stream_names_response")
		resp.Error = e
		return &resp
	}
	var all []*StreamView
	for _, v := range api.ja.js.cluster.Streams(api.ja.acc) {
		if r.Subject == "" || slices.ContainsFunc(v.Config.Subjects, func(s string) bool { return sublist.SubjectsCollide(s, r.Subject) }) {
			all = append(all, v)
		}
	}
	limit := streamNamesLimit
	if list {
		limit = streamListLimit
	}
	offset := min(max(r.Offset, 0), len(all))
	page := all[offset:min(len(all), offset+limit)]
	if list {
		resp := &streamListResponse{apiResponse: newResponse("stream_list_response"), Limit: limit, Streams: []*streamInfo{},
			Total: len(all), Offset: offset}
		for _, v := range page {
			resp.Streams = append(resp.Streams, api.ja.viewInfo(v, "", false))
		}
		return resp
	}
	resp := &streamNamesResponse{apiResponse: newResponse("stream_names_response"), Limit: limit, Streams: []string{},
		Total: len(all), Offset: offset}
	for _, v := range page {
		resp.Streams = append(resp.Streams, v.Config.Name)
	}
	return resp
}

func (api *jsAPI) clusterStreamInfo(v *StreamView, req apiRequest) any {
	resp := &streamInfoResponse{apiResponse: newResponse("stream_info_response")}
	var r streamInfoRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	info := api.ja.viewInfo(v, r.SubjectsFilter, r.DeletedDetails)
	if r.SubjectsFilter != "" {
		resp.Total, resp.Offset, resp.Limit = pageSubjects(&info.State, r.Offset)
	}
	resp.streamInfo = info
	return resp
}

func (api *jsAPI) clusterPurge(v *StreamView, req apiRequest) any {
	resp := &successResponse{apiResponse: newResponse("stream_purge_response")}
	var r jetstore.PurgeRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	if r.Filter != "" && !sublist.ValidSubject(r.Filter) {
		resp.Error = jsErrBadPurgeFilter
		return resp
	}
	n, err := api.ja.js.cluster.Purge(api.ja.acc, v.Config.Name, r)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success, resp.Purged = true, &n
	return resp
}

func (api *jsAPI) clusterMsgGet(v *StreamView, req apiRequest) any {
	resp := &msgGetResponse{apiResponse: newResponse("stream_msg_get_response")}
	var r msgGetRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	// Served from this copy only once it is known to hold everything
	// committed (see DIRECT.GET).
	if api.ja.js.cluster.ReadBarrier(api.ja.acc, v.Config.Name) != nil {
		resp.Error = jsErrClusterUnavailable
		return resp
	}
	m, err := r.find(v.Stream)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Message = &storedMsgJSON{Subject: m.Subject, Seq: m.Seq, Header: m.Header, Data: m.Data, Time: m.Time}
	return resp
}

func (api *jsAPI) clusterMsgDelete(v *StreamView, req apiRequest) any {
	resp := &successResponse{apiResponse: newResponse("stream_msg_delete_response")}
	var r msgDeleteRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	if err := api.ja.js.cluster.DeleteMsg(api.ja.acc, v.Config.Name, r.Seq); err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success = true
	return resp
}
