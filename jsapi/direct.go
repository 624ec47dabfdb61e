package jsapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// Direct get ($JS.API.DIRECT.GET.<stream>): the reply is the stored message itself,
// with the stored headers followed by the stream, subject, sequence and
// time headers clients require, or a status-only header block.

var (
	statusNotFound     = []byte("NATS/1.0 404 Message Not Found\r\n\r\n")
	statusEmptyRequest = []byte("NATS/1.0 408 Empty Request\r\n\r\n")
	statusMalformed    = []byte("NATS/1.0 408 Malformed Request\r\n\r\n")
)

func (api *jsAPI) directGet(name, subject string, req apiRequest, pub *broker.Publisher) {
	js := api.ja.lookup(name)
	if js == nil {
		return
	}
	var m *jetstore.StoredMsg
	var err error
	if subject != "" {
		m, err = js.stream.LastBySubject(subject)
	} else {
		if len(bytes.TrimSpace(req.body)) == 0 {
			pub.Publish(req.reply, nil, statusEmptyRequest, nil)
			return
		}
		var r msgGetRequest
		if json.Unmarshal(req.body, &r) != nil {
			pub.Publish(req.reply, nil, statusMalformed, nil)
			return
		}
		if r == (msgGetRequest{}) {
			// Nothing asked for ({"seq":0} included).
			pub.Publish(req.reply, nil, statusEmptyRequest, nil)
			return
		}
		m, err = r.find(js.stream)
	}
	if err != nil {
		pub.Publish(req.reply, nil, statusNotFound, nil)
		return
	}
	pub.Publish(req.reply, nil, directGetHeader(name, m), m.Data)
}

// directGetHeader builds the reply's header block from the stored one.
func directGetHeader(stream string, m *jetstore.StoredMsg) []byte {
	hdr := make([]byte, 0, len(m.Header)+128+len(stream)+len(m.Subject))
	if len(m.Header) > 0 {
		hdr = append(hdr, bytes.TrimSuffix(m.Header, []byte("\r\n"))...)
	} else {
		hdr = append(hdr, "NATS/1.0\r\n"...)
	}
	hdr = append(hdr, "Nats-Stream: "...)
	hdr = append(hdr, stream...)
	hdr = append(hdr, "\r\nNats-Subject: "...)
	hdr = append(hdr, m.Subject...)
	hdr = append(hdr, "\r\nNats-Sequence: "...)
	hdr = strconv.AppendUint(hdr, m.Seq, 10)
	hdr = append(hdr, "\r\nNats-Time-Stamp: "...)
	hdr = m.Time.UTC().AppendFormat(hdr, time.RFC3339Nano)
	return append(hdr, "\r\n\r\n"...)
}
