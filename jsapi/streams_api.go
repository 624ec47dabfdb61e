package jsapi

import (
	"encoding/json"
	"slices"
	"sort"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/sublist"
)

// Stream API handlers: $JS.API.STREAM.*.

// streamInfo is a stream's info as clients receive it.
type streamInfo struct {
	Config  jetstore.StreamConfig `json:"config"`
	Created time.Time             `json:"created"`
	State   jetstore.StreamState  `json:"state"`
	Cluster *ClusterInfo          `json:"cluster,omitempty"`
	Mirror  *sourceInfo           `json:"mirror,omitempty"`
	Sources []*sourceInfo         `json:"sources,omitempty"`
	TS      time.Time             `json:"ts"`
}

type streamInfoResponse struct {
	apiResponse
	*streamInfo
	DidCreate bool `json:"did_create,omitempty"`
	// Paging of state.subjects.
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
}

type streamNamesResponse struct {
	apiResponse
	Total   int      `json:"total"`
	Offset  int      `json:"offset"`
	Limit   int      `json:"limit"`
	Streams []string `json:"streams"`
}

type streamListResponse struct {
	apiResponse
	Total   int           `json:"total"`
	Offset  int           `json:"offset"`
	Limit   int           `json:"limit"`
	Streams []*streamInfo `json:"streams"`
	Missing []string      `json:"missing,omitempty"`
}

type successResponse struct {
	apiResponse
	Success bool    `json:"success,omitempty"`
	Purged  *uint64 `json:"purged,omitempty"`
}

type msgGetResponse struct {
	apiResponse
	Message *storedMsgJSON `json:"message,omitempty"`
}

// storedMsgJSON is a message in STREAM.MSG.GET's shape; []byte fields
// marshal as standard base64.
type storedMsgJSON struct {
	Subject string    `json:"subject"`
	Seq     uint64    `json:"seq"`
	Header  []byte    `json:"hdrs,omitempty"`
	Data    []byte    `json:"data,omitempty"`
	Time    time.Time `json:"time"`
}

const (
	streamNamesLimit   = 1024
	streamListLimit    = 256
	streamSubjectLimit = 100000
)

func (api *jsAPI) streamRequest(tokens []string, req apiRequest) any {
	switch {
	case len(tokens) == 1 && tokens[0] == "NAMES":
		return api.streamNames(req)
	case len(tokens) == 1 && tokens[0] == "LIST":
		return api.streamList(req)
	case len(tokens) == 2:
		name := tokens[1]
		switch tokens[0] {
		case "CREATE":
			return api.streamCreate(name, req, false)
		case "UPDATE":
			return api.streamCreate(name, req, true)
		case "INFO":
			return api.streamInfo(name, req)
		case "DELETE":
			return api.streamDelete(name)
		case "PURGE":
			return api.streamPurge(name, req)
		}
	case len(tokens) == 3 && tokens[0] == "MSG":
		switch tokens[1] {
		case "GET":
			return api.msgGet(tokens[2], req)
		case "DELETE":
			return api.msgDelete(tokens[2], req)
		}
	}
	return nil // unknown: no reply, as the reference server
}

func (ja *jsAccount) info(st *jetstore.Stream, subjectsFilter string, deletedDetails bool) *streamInfo {
	state := st.State(subjectsFilter, deletedDetails)
	state.Consumers = st.NumConsumers()
	cfg := st.Config()
	cfg.Metadata = jetstore.WithServerMetadata(cfg.Metadata, cfg.RequiredLevel(), jsAPILevel, broker.ProtocolVersion)
	info := &streamInfo{
		Config:  cfg,
		Created: st.Created(),
		State:   state,
		Cluster: &ClusterInfo{Leader: ja.js.broker.Name()},
		TS:      nowUTC(),
	}
	info.Mirror, info.Sources = sourcesInfo(st)
	return info
}

func (api *jsAPI) streamCreate(name string, req apiRequest, update bool) any {
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
	if e := strictStreamRequest(req.body); e != nil {
		resp.Error = e
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
	if pedanticRequest(req.body) {
		if e := checkPedanticStream(&cfg); e != nil {
			resp.Error = e
			return resp
		}
	}
	ja := api.ja
	var st *jetstore.Stream
	var err error
	if update {
		if st, err = ja.store.UpdateStream(cfg); err == nil {
			err = ja.resubscribe(name)
		}
	} else {
		var created bool
		st, created, err = ja.store.AddStream(cfg)
		if err == nil && created {
			if err = ja.attach(st); err != nil {
				undoCreate(ja.store, st)
			}
		}
		resp.DidCreate = err == nil
		if err == nil && created {
			ja.adviseStream(name, actionCreate)
		}
	}
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	if update {
		ja.adviseStream(name, actionModify)
	}
	resp.streamInfo = ja.info(st, "", false)
	return resp
}

// streamInfoRequest is STREAM.INFO's optional body.
type streamInfoRequest struct {
	DeletedDetails bool   `json:"deleted_details"`
	SubjectsFilter string `json:"subjects_filter"`
	Offset         int    `json:"offset"`
}

func (api *jsAPI) streamInfo(name string, req apiRequest) any {
	resp := &streamInfoResponse{apiResponse: newResponse("stream_info_response")}
	var r streamInfoRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	st, err := api.ja.store.Stream(name)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	info := api.ja.info(st, r.SubjectsFilter, r.DeletedDetails)
	if r.SubjectsFilter != "" {
		resp.Total, resp.Offset, resp.Limit = pageSubjects(&info.State, r.Offset)
	}
	resp.streamInfo = info
	return resp
}

// pageSubjects keeps one page of state.subjects, sorted by subject.
func pageSubjects(state *jetstore.StreamState, offset int) (total, off, limit int) {
	total = len(state.Subjects)
	if total <= streamSubjectLimit && offset == 0 {
		return total, 0, streamSubjectLimit
	}
	names := make([]string, 0, total)
	for s := range state.Subjects {
		names = append(names, s)
	}
	sort.Strings(names)
	offset = min(max(offset, 0), total)
	keep := names[offset:min(total, offset+streamSubjectLimit)]
	page := make(map[string]uint64, len(keep))
	for _, s := range keep {
		page[s] = state.Subjects[s]
	}
	state.Subjects = page
	return total, offset, streamSubjectLimit
}

func (api *jsAPI) streamDelete(name string) any {
	resp := &successResponse{apiResponse: newResponse("stream_delete_response")}
	api.ja.detach(name)
	if err := api.ja.store.DeleteStream(name); err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	api.ja.adviseStream(name, actionDelete)
	resp.Success = true
	return resp
}

func (api *jsAPI) streamPurge(name string, req apiRequest) any {
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
	st, err := api.ja.store.Stream(name)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	n, err := st.Purge(r)
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success, resp.Purged = true, &n
	return resp
}

// namesRequest is the paging body of NAMES and LIST.
type namesRequest struct {
	Offset  int    `json:"offset"`
	Subject string `json:"subject"`
}

// pagedStreams returns the (filtered, sorted) streams and one page of them.
func (api *jsAPI) pagedStreams(req apiRequest, limit int) (all, page []*jetstore.Stream, offset int, e *apiError) {
	var r namesRequest
	if e = decodeBody(req.body, &r); e != nil {
		return nil, nil, 0, e
	}
	for _, st := range api.ja.store.Streams() {
		if r.Subject == "" || slices.ContainsFunc(st.Config().Subjects, func(s string) bool {
			return sublist.SubjectsCollide(s, r.Subject)
		}) {
			all = append(all, st)
		}
	}
	offset = min(max(r.Offset, 0), len(all))
	page = all[offset:min(len(all), offset+limit)]
	return all, page, offset, nil
}

func (api *jsAPI) streamNames(req apiRequest) any {
	resp := &streamNamesResponse{apiResponse: newResponse("stream_names_response"), Limit: streamNamesLimit, Streams: []string{}}
	all, page, offset, e := api.pagedStreams(req, streamNamesLimit)
	if e != nil {
		resp.Error = e
		return resp
	}
	resp.Total, resp.Offset = len(all), offset
	for _, st := range page {
		resp.Streams = append(resp.Streams, st.Name())
	}
	return resp
}

func (api *jsAPI) streamList(req apiRequest) any {
	resp := &streamListResponse{apiResponse: newResponse("stream_list_response"), Limit: streamListLimit, Streams: []*streamInfo{}}
	all, page, offset, e := api.pagedStreams(req, streamListLimit)
	if e != nil {
		resp.Error = e
		return resp
	}
	resp.Total, resp.Offset = len(all), offset
	for _, st := range page {
		resp.Streams = append(resp.Streams, api.ja.info(st, "", false))
	}
	return resp
}

// msgGetRequest selects a message for MSG.GET and DIRECT.GET.
type msgGetRequest struct {
	Seq        uint64 `json:"seq,omitempty"`
	LastBySubj string `json:"last_by_subj,omitempty"`
	NextBySubj string `json:"next_by_subj,omitempty"`
}

// find resolves a get request against a stream.
func (r *msgGetRequest) find(st *jetstore.Stream) (*jetstore.StoredMsg, error) {
	switch {
	case r.LastBySubj != "":
		return st.LastBySubject(r.LastBySubj)
	case r.NextBySubj != "":
		return st.NextBySubject(r.Seq, r.NextBySubj)
	case r.Seq > 0:
		return st.Get(r.Seq)
	}
	return nil, jsErrBadRequest
}

func (api *jsAPI) msgGet(name string, req apiRequest) any {
	resp := &msgGetResponse{apiResponse: newResponse("stream_msg_get_response")}
	var r msgGetRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	st, err := api.ja.store.Stream(name)
	if err == nil {
		var m *jetstore.StoredMsg
		if m, err = r.find(st); err == nil {
			resp.Message = &storedMsgJSON{Subject: m.Subject, Seq: m.Seq, Header: m.Header, Data: m.Data, Time: m.Time}
			return resp
		}
	}
	resp.Error = toAPIError(err)
	return resp
}

// msgDeleteRequest is STREAM.MSG.DELETE's body.
type msgDeleteRequest struct {
	Seq     uint64 `json:"seq"`
	NoErase bool   `json:"no_erase"`
}

func (api *jsAPI) msgDelete(name string, req apiRequest) any {
	resp := &successResponse{apiResponse: newResponse("stream_msg_delete_response")}
	var r msgDeleteRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	st, err := api.ja.store.Stream(name)
	if err == nil && st.Config().Sealed {
		resp.Error = jsErrStreamSealed
		return resp
	}
	if err == nil {
		err = st.DeleteMsg(r.Seq)
	}
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	resp.Success = true
	return resp
}

// undoCreate takes back a stream create whose subscriptions failed. A
// stream adopted over stored data keeps that data: it is only detached.
func undoCreate(store *jetstore.Store, st *jetstore.Stream) {
	if st.Adopted() {
		_ = store.Detach(st.Name())
		return
	}
	_ = store.DeleteStream(st.Name())
}
