package jsapi

import (
	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// The subscriptions each consumer has of its own, so that a request for a
// missing consumer gets no-responders as from the reference server: the
// pull-request subject of a pull consumer, and the ack subjects of a
// consumer that takes acks (an ack to an AckNone consumer reaches nobody).

const jsPullPrefix = "$JS.API.CONSUMER.MSG.NEXT."

// consumerAdded subscribes a consumer's ack and pull-request subjects.
func (ja *jsAccount) consumerAdded(st *jetstore.Stream, c *jetstore.Consumer) {
	cfg := c.Config()
	if cfg.AckPolicy != jetstore.AckNone {
		ja.subscribeAcks(st, c)
	}
	if cfg.DeliverSubject != "" {
		return
	}
	for _, subject := range ja.js.apiSubjects(jsPullPrefix + st.Name() + "." + c.Name()) {
		sub, err := ja.acc.Subscribe(subject, "", func(_, reply, _, data []byte) {
			if len(reply) > 0 {
				c.Pull(parsePullRequest(reply, data))
			}
		})
		if err != nil {
			ja.js.log.Error("subscribing pull consumer", "subject", subject, "error", err)
			return
		}
		ja.keepConsumerSub(subject, sub)
	}
}

// keepConsumerSub records a consumer's subscription, replacing an older one.
func (ja *jsAccount) keepConsumerSub(subject string, sub *broker.Subscription) {
	ja.mu.Lock()
	old := ja.consumerSubs[subject]
	ja.consumerSubs[subject] = sub
	ja.mu.Unlock()
	if old != nil {
		old.Unsubscribe()
	}
}

func (ja *jsAccount) consumerRemoved(st *jetstore.Stream, c *jetstore.Consumer) {
	ja.adviseConsumer(st.Name(), c.Name(), actionDelete)
	subjects := append(ja.js.apiSubjects(jsPullPrefix+st.Name()+"."+c.Name()), ackSubject(st, c))
	subs := make([]*broker.Subscription, 0, len(subjects))
	ja.mu.Lock()
	for _, subject := range subjects {
		subs = append(subs, ja.consumerSubs[subject])
		delete(ja.consumerSubs, subject)
	}
	ja.mu.Unlock()
	for _, sub := range subs {
		if sub != nil {
			sub.Unsubscribe()
		}
	}
}

// ackSubject is the wildcard subject of a consumer's acks.
func ackSubject(st *jetstore.Stream, c *jetstore.Consumer) string {
	return jsAckPrefix + st.Name() + "." + c.Name() + ".>"
}

// subscribeAcks routes the acks of one consumer to it.
func (ja *jsAccount) subscribeAcks(st *jetstore.Stream, c *jetstore.Consumer) {
	subject := ackSubject(st, c)
	sub, err := ja.acc.Subscribe(subject, "", func(subject, reply, _, data []byte) {
		if _, sseq, cseq, ok := parseAckSubject(subject); ok {
			applyAck(c, sseq, cseq, data, reply)
		}
	})
	if err != nil {
		ja.js.log.Error("subscribing consumer acks", "subject", subject, "error", err)
		return
	}
	ja.keepConsumerSub(subject, sub)
}
