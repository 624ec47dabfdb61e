package jsapi

import (
	"errors"
	"strconv"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// A stream's part in message tracing: a traced message a stream captures
// adds a JetStream event to the trace (the stream, and once handled the
// subject it was stored under, or why it was refused); a trace-only message
// is not stored. A stored traced message keeps its headers with the trace
// destination turned off, so that its deliveries are not traced again.

// captureTraced is capture for a traced message.
func (ja *jsAccount) captureTraced(js *jsStream, t *broker.MsgTrace, subject, reply, hdr, data []byte) {
	done := t.JetStream(js.stream.Name())
	if t.TraceOnly() {
		done(string(subject), js.stream.DropsForNoInterest(string(subject)), "")
		return
	}
	m := jetstore.NewInMsg(subject, reply, broker.WithTraceDisabled(hdr), data)
	m.Options = publishOptions(m.Header)
	m.Done = func(r jetstore.PublishResult) { done(m.Subject, r.NoInterest, traceRefusal(r.Err)) }
	if err := js.stream.Publish(m); err != nil {
		done("", false, traceRefusal(err))
		ja.refusePublish(js, reply, err)
	}
}

// traceRefusal is the text a trace shows for a stream's refusal: the
// store's own words for its limits, the API error with its code otherwise,
// as in the reference server.
func traceRefusal(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, jetstore.ErrMessageTooLarge):
		return "maximum payload exceeded"
	case errors.Is(err, jetstore.ErrMaxMsgsExceeded), errors.Is(err, jetstore.ErrMaxBytesExceeded),
		errors.Is(err, jetstore.ErrMaxMsgsPerSubject):
		return toAPIError(err).Description
	}
	e := toAPIError(err)
	return e.Description + " (" + strconv.Itoa(int(e.ErrCode)) + ")"
}
