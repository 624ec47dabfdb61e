package jsapi

import (
	"bytes"
	"math/big"
	"strconv"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
)

// The publish side of the JetStream wire: the headers a publisher states
// its expectations with, read into the store's typed options, and the
// acknowledgement it receives for a message a stream stored or refused.

// pubAck is a publish acknowledgement as clients receive it.
type pubAck struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Value     string    `json:"val,omitempty"`
	Batch     string    `json:"batch,omitempty"`
	Count     int       `json:"count,omitempty"`
	Error     *apiError `json:"error,omitempty"`
}

// Publish headers a stream acts on; keys are matched in exact case.
const (
	hdrMsgID               = "Nats-Msg-Id"
	hdrExpectedStream      = "Nats-Expected-Stream"
	hdrExpectedLastSeq     = "Nats-Expected-Last-Sequence"
	hdrExpectedLastSubjSeq = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedSubjSeqSubj = "Nats-Expected-Last-Subject-Sequence-Subject"
	hdrExpectedLastMsgID   = "Nats-Expected-Last-Msg-Id"
	hdrRollup              = "Nats-Rollup"
	hdrTTL                 = "Nats-TTL"
)

// publishOptions reads what a JetStream publisher asks of the stream from
// its headers; nil when it asks nothing. A header present with an empty
// value still counts as present, as the reference server treats it.
func publishOptions(hdr []byte) *jetstore.PublishOptions {
	if !bytes.Contains(hdr, []byte("Nats-")) {
		return nil // no header of ours: the common case, one scan
	}
	var o jetstore.PublishOptions
	asked := false
	if v := parser.HeaderValue(hdr, hdrMsgID); len(v) > 0 {
		o.MsgID, asked = string(v), true
	}
	if v := parser.HeaderValue(hdr, hdrExpectedStream); v != nil {
		o.ExpectedStream, o.HasExpectedStream, asked = string(v), true, true
	}
	if v := parser.HeaderValue(hdr, hdrTTL); v != nil {
		asked = true
		o.TTL, o.TTLInvalid = parseTTL(v)
		o.HasTTL = !o.TTLInvalid && o.TTL != 0
	}
	if parser.HasHeader(hdr, hdrStreamSource) {
		o.HasSourceHeader, asked = true, true
	}
	if v := parser.HeaderValue(hdr, hdrIncr); len(v) > 0 { // empty: none, as the reference reads it
		asked = true
		var n big.Int
		if _, ok := n.SetString(string(v), 10); ok {
			o.HasIncr, o.Incr = true, &n
		} else {
			o.IncrInvalid = true
		}
	}
	if v := parser.HeaderValue(hdr, hdrExpectedLastSubjSeq); v != nil {
		o.ExpectedLastSubjectSeq, asked = seqExpectation(v), true
		if s := parser.HeaderValue(hdr, hdrExpectedSubjSeqSubj); len(s) > 0 {
			o.ExpectedLastSubjectSeqSubject = string(s)
		}
	}
	if v := parser.HeaderValue(hdr, hdrExpectedLastSeq); v != nil {
		o.ExpectedLastSeq, asked = seqExpectation(v), true
	}
	if v := parser.HeaderValue(hdr, hdrExpectedLastMsgID); v != nil {
		o.ExpectedLastMsgID, o.HasExpectedLastMsgID, asked = string(v), true, true
	}
	if v := parser.HeaderValue(hdr, hdrRollup); v != nil {
		asked = true
		switch string(v) {
		case "sub":
			o.Rollup = jetstore.RollupSubject
		case "all":
			o.Rollup = jetstore.RollupAll
		default:
			o.Rollup, o.RollupValue = jetstore.RollupInvalid, string(v)
		}
	}
	if !asked {
		return nil
	}
	return &o
}

func seqExpectation(v []byte) jetstore.SeqExpectation {
	n, err := strconv.ParseUint(string(v), 10, 64)
	return jetstore.SeqExpectation{Set: true, Seq: n, Malformed: err != nil}
}

// storedMsgID reads a stored message's id back for the store's recovery of
// its duplicate windows (jetstore.Options.MessageID).
func storedMsgID(hdr []byte) []byte { return parser.HeaderValue(hdr, hdrMsgID) }
