package mqttgw

import (
	"strings"
	"sync"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/mqtt"
)

// Messages in both directions. An MQTT PUBLISH goes to core subscribers at
// once, NATS and MQTT alike (with QoS 1 it carries the Nmqtt-Pub header, so
// that MQTT QoS 1 subscriptions leave it to their consumer); with QoS 1 it
// is also stored in $MQTT_msgs, and with retain in $MQTT_rmsgs. Its PUBACK
// leaves once every record is durable, in the order the PUBLISHes came
// [MQTT-4.6.0-2].

func (c *client) handlePublish(p *mqtt.Publish) error {
	subject, err := mqtt.TopicToSubject(p.Topic)
	if err != nil {
		c.logInfo("MQTT publish to a topic without a NATS subject; closing", "error", err)
		return errMQTTClose
	}
	if strings.HasPrefix(subject, mqttReservedPrefix) {
		c.logInfo("MQTT publish to a reserved topic; closing", "topic", p.Topic)
		return errMQTTClose
	}
	switch {
	case p.QoS > 1:
		c.logInfo("MQTT QoS 2 is not supported; closing", "topic", p.Topic)
		return errMQTTClose
	case (p.QoS > 0 || p.Retain) && !c.ma.persistent:
		c.logInfo("MQTT QoS 1 and retained messages need JetStream; closing", "topic", p.Topic)
		return errMQTTClose
	}
	c.core.CountIn(len(p.Payload))
	if !c.perms.CanPublish(subject) {
		// MQTT 3.1.1 cannot refuse a PUBLISH: it is dropped (and still
		// acknowledged, or the client would resend it forever).
		c.ms.broker.CountViolation(broker.ViolationPublishDenied)
		c.logInfo("MQTT publish not allowed for this user", "topic", p.Topic)
		if p.QoS > 0 {
			c.pubacks.expect(c, p.PacketID, 0)
		}
		return nil
	}
	var pending *pendingPuback
	if p.QoS > 0 {
		pending = c.pubacks.expect(c, p.PacketID, storedCopies(p.QoS, p.Retain))
	}
	c.ma.publish(c.pub, subject, p.QoS, p.Retain, p.Payload, func(err error) {
		if pending != nil {
			c.pubacks.written(c, pending, err)
		} else if err != nil {
			c.ms.log.Error("MQTT retained message not stored", "client_id", c.clientID,
				"topic", p.Topic, "error", err)
		}
	})
	return nil
}

func storedCopies(qos byte, retain bool) int {
	n := int(qos)
	if retain {
		n++
	}
	return n
}

// publish delivers a message published over MQTT (or a will) and stores
// its copies; done is called once per stored copy.
func (ma *account) publish(pub *broker.Publisher, subject string, qos byte, retain bool, payload []byte, done func(error)) {
	var hdr []byte
	if qos > 0 {
		hdr = mqttQoSHeaders[1]
	}
	pub.Stage([]byte(subject), nil, hdr, payload)
	if qos > 0 {
		if err := ma.store(ma.msgs, mqttMsgsPrefix+subject, hdr, payload, done); err != nil && done != nil {
			done(err)
		}
	}
	if retain {
		// An empty payload deletes the retained message [MQTT-3.3.1-10]:
		// it replaces it as an empty record (one per subject).
		if err := ma.store(ma.retained, mqttRetainPrefix+subject, mqttQoSHeaders[qos], payload, done); err != nil && done != nil {
			done(err)
		}
	}
}

// publishWill sends a will on behalf of a connection that ended without
// DISCONNECT [MQTT-3.1.2-8]. Its topic and QoS were checked at CONNECT.
func (ma *account) publishWill(c *client, w *mqtt.Will) {
	subject, err := mqtt.TopicToSubject(w.Topic)
	if err != nil {
		return
	}
	ma.publish(ma.willPub, subject, w.QoS, w.Retain, w.Payload, func(err error) {
		if err != nil {
			c.ms.log.Error("MQTT will not stored", "client_id", c.clientID, "error", err)
		}
	})
	ma.willPub.Flush()
	c.core.CountIn(len(w.Payload))
}

// pubackQueue holds a connection's QoS 1 publishes until their records are
// durable; PUBACKs leave strictly in arrival order.
type pubackQueue struct {
	mu sync.Mutex
	q  []*pendingPuback
}

type pendingPuback struct {
	id   uint16
	left int // stored copies not yet durable
	err  error
}

// expect queues a PUBACK owed once left writes completed (read loop).
func (pq *pubackQueue) expect(c *client, id uint16, left int) *pendingPuback {
	p := &pendingPuback{id: id, left: left}
	pq.mu.Lock()
	pq.q = append(pq.q, p)
	pq.mu.Unlock()
	if left == 0 {
		pq.written(c, nil, nil)
	}
	return p
}

// written completes one stored copy of p (nil: nothing completed) and sends
// every PUBACK now due. A failed write closes the connection without its
// PUBACK, so the client publishes again.
func (pq *pubackQueue) written(c *client, p *pendingPuback, err error) {
	var out []byte
	var failed error
	pq.mu.Lock()
	if p != nil {
		p.left--
		if err != nil && p.err == nil {
			p.err = err
		}
	}
	for len(pq.q) > 0 && pq.q[0].left <= 0 {
		head := pq.q[0]
		if head.err != nil {
			failed = head.err
			break
		}
		pq.q[0] = nil
		pq.q = pq.q[1:]
		out = mqtt.AppendPubAck(out, head.id)
	}
	pq.mu.Unlock()
	if len(out) > 0 {
		c.send(out)
	}
	if failed != nil {
		c.ms.log.Error("MQTT message not stored; closing without PUBACK", "cid", c.cid,
			"client_id", c.clientID, "error", failed)
		c.closeConnection(broker.CloseWriteError, true)
	}
}

// coreHandler delivers what is published on one of a subscription's
// subjects, at QoS 0. It runs on the publisher's goroutine.
func (c *client) coreHandler(sub *subscription) broker.MsgHandler {
	return func(subject, _, hdr, data []byte) {
		if sub.skips(subject) {
			return
		}
		if q, ok := mqttMsgQoS(hdr); ok && q > 0 && sub.qos > 0 {
			return // stored in $MQTT_msgs: the subscription's consumer sends it
		}
		c.sendPublish(mqtt.SubjectToTopic(string(subject)), 0, 0, false, false, data)
	}
}
