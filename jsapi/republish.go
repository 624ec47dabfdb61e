package jsapi

import (
	"strconv"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/transform"
)

// Republish: a stream with a republish directive publishes every stored
// message whose subject matches the directive's source again, on the
// transformed subject, once it is durable. The copy carries the stored
// headers plus where it is stored (Nats-Stream, Nats-Subject,
// Nats-Sequence, Nats-Time-Stamp) and the sequence of the subject's
// previous message (Nats-Last-Sequence, 0 for none) so that a subscriber
// can tell whether it missed one; headers-only copies leave the data out
// and state its size (Nats-Msg-Size).

const (
	hdrStream       = "Nats-Stream"
	hdrSubject      = "Nats-Subject"
	hdrSequence     = "Nats-Sequence"
	hdrTimeStamp    = "Nats-Time-Stamp"
	hdrLastSequence = "Nats-Last-Sequence"
	hdrMsgSize      = "Nats-Msg-Size"
)

// republisher is one stream's republish directive; only the stream's
// committer uses it.
type republisher struct {
	stream      string
	tr          *transform.Transform
	headersOnly bool
	pub         *broker.Publisher
	subject     []byte // scratch
	hdr         []byte // scratch
}

// newRepublisher compiles a stream's directive, nil without one.
func newRepublisher(acc *broker.Account, cfg *jetstore.StreamConfig) *republisher {
	rp := cfg.RePublish
	if rp == nil {
		return nil
	}
	tr, err := transform.New(rp.Source, rp.Destination)
	if err != nil {
		return nil // validated with the configuration
	}
	return &republisher{stream: cfg.Name, tr: tr, headersOnly: rp.HeadersOnly, pub: acc.NewPublisher()}
}

// send republishes the stored messages of a committed batch.
func (r *republisher) send(msgs []*jetstore.InMsg, results []jetstore.PublishResult) {
	sent := false
	for i, m := range msgs {
		res := &results[i]
		if res.Err != nil || res.Duplicate || res.Subject == "" {
			continue
		}
		dest, ok := r.tr.Match(res.Subject)
		if !ok {
			continue
		}
		r.subject = append(r.subject[:0], dest...)
		r.hdr = appendRepublishHeader(r.hdr[:0], m.Header, r.stream, res, len(m.Data), r.headersOnly)
		data := m.Data
		if r.headersOnly {
			data = nil
		}
		r.pub.Stage(r.subject, nil, r.hdr, data)
		sent = true
	}
	if sent {
		r.pub.Flush()
	}
}

// appendRepublishHeader renders the stored header followed by the
// republish headers.
func appendRepublishHeader(b, stored []byte, stream string, res *jetstore.PublishResult, size int, headersOnly bool) []byte {
	if len(stored) >= 4 {
		b = append(b, stored[:len(stored)-2]...) // without the closing blank line
	} else {
		b = append(b, "NATS/1.0\r\n"...)
	}
	b = append(b, hdrStream+": "...)
	b = append(b, stream...)
	b = append(b, "\r\n"+hdrSubject+": "...)
	b = append(b, res.Subject...)
	b = append(b, "\r\n"+hdrSequence+": "...)
	b = strconv.AppendUint(b, res.Seq, 10)
	b = append(b, "\r\n"+hdrTimeStamp+": "...)
	b = time.Unix(0, res.Time).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\r\n"+hdrLastSequence+": "...)
	b = strconv.AppendUint(b, res.PrevSubjectSeq, 10)
	if headersOnly {
		b = append(b, "\r\n"+hdrMsgSize+": "...)
		b = strconv.AppendInt(b, int64(size), 10)
	}
	return append(b, "\r\n\r\n"...)
}
