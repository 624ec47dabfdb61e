package server

import (
	"bytes"
	"strconv"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// The server side of consumers: a Sender per consumer (an internal
// publisher), the pull-request subscription of each pull consumer (so a
// request for a missing consumer gets no-responders), and the ack
// subscription of each stream.

// consumerSender delivers a consumer's messages through the account.
type consumerSender struct {
	acc *broker.Account
	pub *broker.Publisher
}

func (s *consumerSender) Send(to, subject, reply, hdr, data []byte) bool {
	return s.pub.StageAs(to, subject, reply, hdr, data)
}

func (s *consumerSender) Flush() { s.pub.Flush() }

func (s *consumerSender) HasInterest(subject []byte) bool { return s.acc.HasInterestBytes(subject) }

func (ja *jsAccount) newSender(stream, consumer string) jetstore.Sender {
	return &consumerSender{acc: ja.acc, pub: ja.acc.NewPublisher()}
}

const jsPullPrefix = "$JS.API.CONSUMER.MSG.NEXT."

// consumerAdded subscribes a pull consumer's request subject.
func (ja *jsAccount) consumerAdded(st *jetstore.Stream, c *jetstore.Consumer) {
	cfg := c.Config()
	if cfg.DeliverSubject != "" {
		return
	}
	subject := jsPullPrefix + st.Name() + "." + c.Name()
	sub, err := ja.acc.Subscribe(subject, "", func(_, reply, _, data []byte) {
		if len(reply) > 0 {
			c.Pull(data, reply)
		}
	})
	if err != nil {
		ja.srv.log.Error("subscribing pull consumer", "subject", subject, "error", err)
		return
	}
	ja.mu.Lock()
	if old := ja.pullSubs[subject]; old != nil {
		old.Unsubscribe()
	}
	ja.pullSubs[subject] = sub
	ja.mu.Unlock()
}

func (ja *jsAccount) consumerRemoved(st *jetstore.Stream, c *jetstore.Consumer) {
	subject := jsPullPrefix + st.Name() + "." + c.Name()
	ja.mu.Lock()
	sub := ja.pullSubs[subject]
	delete(ja.pullSubs, subject)
	ja.mu.Unlock()
	if sub != nil {
		sub.Unsubscribe()
	}
}

const jsAckPrefix = "$JS.ACK."

// ackHandler routes acks of one stream to its consumers. It runs in the
// acknowledging client's read loop, so it only parses and queues.
func (ja *jsAccount) ackHandler(js *jsStream) broker.MsgHandler {
	return func(subject, reply, _, data []byte) {
		consumer, sseq, cseq, ok := parseAckSubject(subject)
		if !ok {
			return
		}
		c, err := js.stream.Consumer(string(consumer))
		if err != nil {
			return
		}
		c.Ack(sseq, cseq, data, reply)
	}
}

// flowControlHandler routes answers to flow control requests,
// $JS.FC.<stream>.<consumer>.<id>, to the consumer.
func (ja *jsAccount) flowControlHandler(js *jsStream) broker.MsgHandler {
	return func(subject, _, _, _ []byte) {
		rest := subject[len(jetstore.FlowControlPrefix):]
		i := bytes.IndexByte(rest, '.')
		if i < 0 {
			return
		}
		rest = rest[i+1:]
		if i = bytes.IndexByte(rest, '.'); i < 0 {
			return
		}
		if c, err := js.stream.Consumer(string(rest[:i])); err == nil {
			c.FlowControlReply(subject)
		}
	}
}

// parseAckSubject reads $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<tm>.<pending>
// and the v2 form with domain and account hash before the stream.
func parseAckSubject(subject []byte) (consumer []byte, sseq, cseq uint64, ok bool) {
	var tokens [12][]byte
	n := 0
	for rest := subject[len(jsAckPrefix):]; n < len(tokens); n++ {
		i := bytes.IndexByte(rest, '.')
		if i < 0 {
			tokens[n] = rest
			n++
			break
		}
		tokens[n], rest = rest[:i], rest[i+1:]
	}
	var t [][]byte
	switch {
	case n == 7:
		t = tokens[:7]
	case n >= 9:
		t = tokens[2:9]
	default:
		return nil, 0, 0, false
	}
	s, err1 := strconv.ParseUint(string(t[3]), 10, 64)
	c, err2 := strconv.ParseUint(string(t[4]), 10, 64)
	if err1 != nil || err2 != nil {
		return nil, 0, 0, false
	}
	return t[1], s, c, true
}
