package jsapi

import (
	"errors"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// Consumer control requests: pausing and resuming a consumer
// ($JS.API.CONSUMER.PAUSE.<stream>.<consumer>) and unpinning a priority
// group's client ($JS.API.CONSUMER.UNPIN.<stream>.<consumer>).

type consumerPauseRequest struct {
	PauseUntil time.Time `json:"pause_until"`
}

type consumerPauseResponse struct {
	apiResponse
	Paused         bool          `json:"paused"`
	PauseUntil     time.Time     `json:"pause_until"`
	PauseRemaining time.Duration `json:"pause_remaining,omitempty"`
}

// consumerPause pauses until the requested time; no body, or a zero or
// past time, resumes.
func (api *jsAPI) consumerPause(stream, name string, req apiRequest) any {
	resp := &consumerPauseResponse{apiResponse: newResponse("consumer_pause_response")}
	var r consumerPauseRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	st, err := api.ja.store.Stream(stream)
	if err == nil {
		_, err = st.PauseConsumer(name, r.PauseUntil)
	}
	if err != nil {
		resp.Error = toAPIError(err)
		return resp
	}
	until := r.PauseUntil.UTC()
	resp.PauseUntil = until
	if now := time.Now(); now.Before(until) {
		resp.Paused, resp.PauseRemaining = true, until.Sub(now)
	}
	return resp
}

type consumerUnpinRequest struct {
	Group string `json:"group"`
}

func (api *jsAPI) consumerUnpin(stream, name string, req apiRequest) any {
	resp := &apiResponse{Type: jsTypePrefix + "consumer_unpin_response"}
	var r consumerUnpinRequest
	if e := decodeBody(req.body, &r); e != nil {
		resp.Error = e
		return resp
	}
	switch {
	case r.Group == "":
		resp.Error = errInvalidJSON(errors.New("consumer group not specified"))
		return resp
	case !jetstore.ValidGroupName(r.Group):
		resp.Error = jsErrInvalidGroupName
		return resp
	}
	st, err := api.ja.store.Stream(stream)
	if err == nil {
		err = st.UnpinConsumer(name, r.Group)
	}
	if err != nil {
		resp.Error = toAPIError(err)
	}
	return resp
}
