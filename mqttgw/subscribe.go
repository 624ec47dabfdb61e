package mqttgw

import (
	"errors"
	"sort"
	"strings"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/mqtt"
)

// SUBSCRIBE and UNSUBSCRIBE. Each filter maps to one or two subjects
// (mqtt.FilterToSubjects); a filter that cannot be mapped or is not
// permitted is refused in the SUBACK, the others are granted QoS 0 or 1
// (QoS 2 is granted as 1; without JetStream everything is QoS 0). A
// persistent session's new subscriptions are stored before the SUBACK.
// Retained messages follow the SUBACK [MQTT-3.3.1-6].

func (c *client) handleSubscribe(p *mqtt.Subscribe) error {
	codes := make([]byte, len(p.Subscriptions))
	var added []*subscription
	for i, req := range p.Subscriptions {
		sub, ok := c.newSubscription(req)
		if !ok {
			codes[i] = mqtt.SubackFailure
			continue
		}
		if err := c.sess.replaceSub(c, sub); err != nil {
			c.ms.log.Error("MQTT subscribe failed", "client_id", c.clientID,
				"filter", req.Filter, "error", err)
			codes[i] = mqtt.SubackFailure
			continue
		}
		codes[i] = sub.qos
		added = append(added, sub)
	}
	if len(added) > 0 {
		if err := c.sess.save(); err != nil {
			c.ms.log.Error("MQTT session not stored; closing", "client_id", c.clientID, "error", err)
			return errMQTTClose
		}
	}
	c.send(mqtt.AppendSubAck(nil, p.PacketID, codes))
	for _, sub := range added {
		c.sendRetained(sub)
	}
	return nil
}

// newSubscription checks one requested filter.
func (c *client) newSubscription(req mqtt.Subscription) (*subscription, bool) {
	subjects, err := mqtt.FilterToSubjects(req.Filter)
	if err != nil {
		c.logInfo("MQTT filter refused", "error", err)
		return nil, false
	}
	if strings.HasPrefix(subjects[0], mqttReservedPrefix) {
		c.logInfo("MQTT filter on the broker's own topics refused", "filter", req.Filter)
		return nil, false
	}
	if subjects = c.permittedSubjects(subjects); subjects == nil {
		c.ms.broker.CountViolation(broker.ViolationSubscribeDenied)
		c.logInfo("MQTT subscription not allowed for this user", "filter", req.Filter)
		return nil, false
	}
	qos := min(req.QoS, 1)
	if !c.ma.persistent {
		qos = 0
	}
	return c.sess.newSub(c, req.Filter, qos, subjects), true
}

// permittedSubjects applies the user's subscribe permissions to a filter's
// subjects: nil when the filter is denied. "a/#" also covers "a"; that part
// is left out when only "a" is denied.
func (c *client) permittedSubjects(subjects []string) []string {
	if !c.perms.CanSubscribe(subjects[0], "") {
		return nil
	}
	if len(subjects) > 1 && !c.perms.CanSubscribe(subjects[1], "") {
		return subjects[:1]
	}
	return subjects
}

// replaceSub installs a subscription, replacing one with the same filter
// [MQTT-3.8.4-3]; a consumer left over from a QoS 1 predecessor goes.
func (s *session) replaceSub(c *client, sub *subscription) error {
	s.mu.Lock()
	old := s.subs[sub.filter]
	if old != nil {
		delete(s.subs, old.filter)
		delete(s.byConsumer, old.consumer)
	}
	s.mu.Unlock()
	if old != nil {
		s.deactivate(old)
		if old.consumer != "" && sub.consumer == "" {
			s.deleteConsumer(old)
		}
	}
	s.mu.Lock()
	s.addSubLocked(sub)
	s.mu.Unlock()
	if err := s.activate(c, sub); err != nil {
		s.removeSub(sub)
		return err
	}
	return nil
}

func (s *session) removeSub(sub *subscription) {
	s.mu.Lock()
	if s.subs[sub.filter] == sub {
		delete(s.subs, sub.filter)
		delete(s.byConsumer, sub.consumer)
	}
	s.mu.Unlock()
	s.deactivate(sub)
	s.deleteConsumer(sub)
}

func (c *client) handleUnsubscribe(p *mqtt.Unsubscribe) error {
	removed := false
	for _, f := range p.Filters {
		c.sess.mu.Lock()
		sub := c.sess.subs[f]
		c.sess.mu.Unlock()
		if sub != nil {
			c.sess.removeSub(sub)
			removed = true
		}
	}
	if removed {
		if err := c.sess.save(); err != nil {
			c.ms.log.Error("MQTT session not stored; closing", "client_id", c.clientID, "error", err)
			return errMQTTClose
		}
	}
	c.send(mqtt.AppendUnsubAck(nil, p.PacketID))
	return nil
}

// sendRetained sends the retained messages a new subscription matches,
// with the RETAIN flag [MQTT-3.3.1-8], in subject order.
func (c *client) sendRetained(sub *subscription) {
	if !c.ma.persistent {
		return
	}
	var subjects []string
	for _, s := range sub.subjects {
		for subject := range c.ma.retained.SubjectsCount(mqttRetainPrefix + s) {
			subjects = append(subjects, subject)
		}
	}
	sort.Strings(subjects)
	for _, subject := range subjects {
		m, err := c.ma.retained.LastBySubject(subject)
		if errors.Is(err, jetstore.ErrNoMessageFound) || err == nil && len(m.Data) == 0 {
			continue // deleted since
		}
		if err != nil {
			c.ms.log.Error("reading a retained message", "subject", subject, "error", err)
			continue
		}
		natsSubject := subject[len(mqttRetainPrefix):]
		if sub.skips([]byte(natsSubject)) {
			continue
		}
		qos := sub.qos
		if q, ok := mqttMsgQoS(m.Header); ok {
			qos = min(qos, q)
		}
		var pi uint16
		if qos > 0 {
			c.sess.mu.Lock()
			pi, _ = c.sess.trackLocked(mqttInflight{})
			c.sess.mu.Unlock()
			if pi == 0 {
				continue
			}
		}
		c.sendPublish(mqtt.SubjectToTopic(natsSubject), pi, qos, true, false, m.Data)
	}
}
