package mqttgw

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/mqtt"
)

// session is the state of one client identifier: its subscriptions and
// the QoS 1 messages in flight to it. A clean session lives as long as its
// connection; a persistent one is kept in memory while the server runs and
// in $MQTT_sess across restarts, and its QoS 1 subscriptions are durable
// consumers of $MQTT_msgs, which keep undelivered and unacknowledged
// messages while the client is away.
type session struct {
	ma    *account
	id    string
	hash  string // names the session's subjects and consumers
	clean bool

	mu         sync.Mutex
	conn       *client // attached connection, nil while away
	subs       map[string]*subscription
	byConsumer map[string]*subscription
	inflight   map[uint16]mqttInflight
	byDelivery map[mqttDelivery]uint16
	nextPI     uint16
	deliverSub *broker.Subscription
}

// subscription is one subscription of a session.
type subscription struct {
	filter        string
	qos           byte // granted
	subjects      []string
	wildcardFirst bool   // does not match "$" topics [MQTT-4.7.2-1]
	consumer      string // durable consumer for QoS 1; "" otherwise
	deny          broker.DeliveryFilter
	core          []*broker.Subscription // while a connection is attached
}

// mqttInflight is a QoS 1 message sent and not yet acknowledged; consumer
// is empty for a retained message (sent once, from no consumer).
type mqttInflight struct {
	consumer   string
	sseq, cseq uint64
}

type mqttDelivery struct {
	consumer string
	sseq     uint64
}

// sessionRecord is a persistent session in $MQTT_sess.
type sessionRecord struct {
	ID   string      `json:"id"`
	Subs []subRecord `json:"subs,omitempty"`
}

type subRecord struct {
	Filter string `json:"filter"`
	QoS    byte   `json:"qos"`
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:12])
}

func (ma *account) newSession(id string, clean bool) *session {
	return &session{ma: ma, id: id, hash: shortHash(id), clean: clean,
		subs: make(map[string]*subscription), byConsumer: make(map[string]*subscription),
		inflight: make(map[uint16]mqttInflight), byDelivery: make(map[mqttDelivery]uint16)}
}

// openSession finds or creates the session for a CONNECT, taking it over
// from a connection that still holds it [MQTT-3.1.4-2]. present is the
// CONNACK's session present flag.
func (ma *account) openSession(c *client, id string, clean bool) (sess *session, present bool, err error) {
	// One CONNECT at a time per account decides sessions, so two clients
	// racing with one identifier cannot both win.
	ma.connectMu.Lock()
	defer ma.connectMu.Unlock()
	ma.mu.Lock()
	old := ma.live[id]
	ma.mu.Unlock()
	if old != nil {
		old.takeOver()
	}
	ma.mu.Lock()
	old = ma.live[id] // a clean session left the map when it detached
	ma.mu.Unlock()
	if clean {
		if old != nil {
			old.discard()
		} else if ma.persistent {
			if rec, _ := ma.loadSession(id); rec != nil {
				ma.newSession(id, false).restoreSubs(rec, nil).discard()
			}
		}
		sess = ma.newSession(id, true)
	} else if old != nil {
		sess, present = old, true
	} else {
		rec, err := ma.loadSession(id)
		if err != nil {
			return nil, false, err
		}
		sess = ma.newSession(id, false)
		if rec != nil {
			sess.restoreSubs(rec, c)
			present = true
		} else if err := sess.save(); err != nil {
			return nil, false, err
		}
	}
	ma.mu.Lock()
	ma.live[id] = sess
	ma.mu.Unlock()
	return sess, present, nil
}

// takeOver closes the connection holding the session, without its will,
// and waits until it let go.
func (s *session) takeOver() {
	s.mu.Lock()
	prev := s.conn
	s.mu.Unlock()
	if prev == nil {
		return
	}
	prev.clearWill()
	prev.logInfo("MQTT session taken over by a new connection")
	prev.closeConnection(broker.CloseSessionTakenOver, true)
	select {
	case <-prev.detached:
	case <-time.After(takeoverWait):
	}
}

// loadSession reads a stored session; nil when there is none.
func (ma *account) loadSession(id string) (*sessionRecord, error) {
	m, err := ma.sessions.LastBySubject(mqttSessPrefix + shortHash(id))
	if errors.Is(err, jetstore.ErrNoMessageFound) || err == nil && len(m.Data) == 0 {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec sessionRecord
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return nil, fmt.Errorf("session record of %q: %w", id, err)
	}
	if rec.ID != id {
		return nil, fmt.Errorf("session record of %q belongs to %q", id, rec.ID)
	}
	return &rec, nil
}

// restoreSubs rebuilds the subscriptions of a stored session; c (may be
// nil) gives the permissions for delivery filtering.
func (s *session) restoreSubs(rec *sessionRecord, c *client) *session {
	for _, r := range rec.Subs {
		subjects, err := mqtt.FilterToSubjects(r.Filter)
		if err != nil {
			continue
		}
		if c != nil {
			// Permissions are those of the user connecting now.
			if subjects = c.permittedSubjects(subjects); subjects == nil {
				continue
			}
		}
		s.addSubLocked(s.newSub(c, r.Filter, r.QoS, subjects))
	}
	return s
}

// newSub describes a subscription; its consumer is created by activate.
func (s *session) newSub(c *client, filter string, qos byte, subjects []string) *subscription {
	sub := &subscription{filter: filter, qos: qos, subjects: subjects, wildcardFirst: mqtt.WildcardFirst(filter)}
	if qos > 0 {
		sub.consumer = "mqtt_" + s.hash + "_" + shortHash(filter)[:16]
	}
	if c != nil {
		sub.deny = c.perms.DeliveryFilter(subjects[0], "")
	}
	return sub
}

func (s *session) addSubLocked(sub *subscription) {
	s.subs[sub.filter] = sub
	if sub.consumer != "" {
		s.byConsumer[sub.consumer] = sub
	}
}

// save stores a persistent session's subscriptions.
func (s *session) save() error {
	if s.clean {
		return nil
	}
	rec := sessionRecord{ID: s.id}
	s.mu.Lock()
	for _, sub := range s.subs {
		rec.Subs = append(rec.Subs, subRecord{Filter: sub.filter, QoS: sub.qos})
	}
	s.mu.Unlock()
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.ma.storeSync(s.ma.sessions, mqttSessPrefix+s.hash, nil, data)
}

// discard ends a session for good: its consumers and its stored record
// [MQTT-3.1.2-6].
func (s *session) discard() {
	s.mu.Lock()
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	for _, sub := range subs {
		s.deleteConsumer(sub)
	}
	if !s.clean && s.ma.persistent {
		_ = s.ma.storeSync(s.ma.sessions, mqttSessPrefix+s.hash, nil, nil)
	}
	s.ma.mu.Lock()
	if s.ma.live[s.id] == s {
		delete(s.ma.live, s.id)
	}
	s.ma.mu.Unlock()
}

func (s *session) deleteConsumer(sub *subscription) {
	if sub.consumer != "" && s.ma.msgs != nil {
		_ = s.ma.msgs.DeleteConsumer(sub.consumer)
	}
}

// attach binds a connection (after its CONNACK was queued) and starts the
// session's subscriptions. Unacknowledged QoS 1 messages are made due
// before the consumers can see the connection, so they are sent again
// first and at once [MQTT-4.4.0-1].
func (s *session) attach(c *client) error {
	s.mu.Lock()
	s.conn = c
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	s.mu.Unlock()
	if !s.ma.persistent {
		return nil // a clean session without JetStream has no subscriptions yet
	}
	for _, sub := range subs {
		if sub.consumer == "" {
			continue
		}
		cons, err := s.ensureConsumer(sub)
		if err != nil {
			return err
		}
		cons.RedeliverPending()
	}
	ds, err := s.ma.acc.Subscribe(mqttDeliverPrefix+s.hash+".*", "", s.deliverStored)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.deliverSub = ds
	s.mu.Unlock()
	for _, sub := range subs {
		if err := s.subscribeCore(c, sub); err != nil {
			return err
		}
	}
	return nil
}

// activate starts a new subscription: its durable consumer for QoS 1
// messages, and core subscriptions for every message on its subjects.
func (s *session) activate(c *client, sub *subscription) error {
	if sub.consumer != "" {
		if _, err := s.ensureConsumer(sub); err != nil {
			return err
		}
	}
	return s.subscribeCore(c, sub)
}

func (s *session) subscribeCore(c *client, sub *subscription) error {
	var core []*broker.Subscription
	for _, subject := range sub.subjects {
		cs, err := s.ma.acc.Subscribe(subject, "", c.coreHandler(sub))
		if err != nil {
			for _, x := range core {
				x.Unsubscribe()
			}
			return err
		}
		core = append(core, cs)
	}
	s.mu.Lock()
	sub.core = core
	s.mu.Unlock()
	return nil
}

// deactivate removes a subscription's core subscriptions.
func (s *session) deactivate(sub *subscription) {
	s.mu.Lock()
	core := sub.core
	sub.core = nil
	s.mu.Unlock()
	for _, cs := range core {
		cs.Unsubscribe()
	}
}

func (s *session) ensureConsumer(sub *subscription) (*jetstore.Consumer, error) {
	o := &s.ma.ms.opts
	cfg := jetstore.ConsumerConfig{
		Durable:        sub.consumer,
		DeliverSubject: mqttDeliverPrefix + s.hash + "." + sub.consumer[len(sub.consumer)-16:],
		DeliverPolicy:  jetstore.DeliverNew,
		AckPolicy:      jetstore.AckExplicit,
		AckWait:        o.AckWait,
		MaxAckPending:  o.MaxAckPending,
		ReplayPolicy:   jetstore.ReplayInstant,
		MemoryStorage:  s.clean,
		// A delivery must be on record before the client can see it, so
		// that after a crash it is sent again with DUP set.
		RecordBeforeSend: true,
	}
	if len(sub.subjects) == 1 {
		cfg.FilterSubject = mqttMsgsPrefix + sub.subjects[0]
	} else {
		for _, subject := range sub.subjects {
			cfg.FilterSubjects = append(cfg.FilterSubjects, mqttMsgsPrefix+subject)
		}
	}
	cons, _, err := s.ma.msgs.AddConsumer(cfg, jetstore.ActionCreateOrUpdate)
	if err != nil {
		return nil, fmt.Errorf("consumer for %q: %w", sub.filter, err)
	}
	return cons, nil
}

// detach lets go of a closed connection. A clean session ends; a persistent
// one keeps its subscriptions and QoS 1 messages in flight, except
// retained messages, which are not sent again.
func (s *session) detach(c *client) {
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		return
	}
	s.conn = nil
	ds := s.deliverSub
	s.deliverSub = nil
	subs := make([]*subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		subs = append(subs, sub)
	}
	for pi, m := range s.inflight {
		if m.consumer == "" {
			delete(s.inflight, pi)
		}
	}
	s.mu.Unlock()
	if ds != nil {
		ds.Unsubscribe()
	}
	for _, sub := range subs {
		s.deactivate(sub)
	}
	if s.clean {
		s.discard()
	}
}

// deliverStored receives a QoS 1 message from one of the session's
// consumers (subject is $MQTT.msgs.<subject>, reply its $JS.ACK subject).
// It runs on the consumer's goroutine.
func (s *session) deliverStored(subject, reply, hdr, data []byte) {
	consumer, sseq, cseq, dc, ok := parseConsumerAck(reply)
	if !ok || !bytes.HasPrefix(subject, []byte(mqttMsgsPrefix)) {
		return
	}
	natsSubject := subject[len(mqttMsgsPrefix):]
	s.mu.Lock()
	c, sub := s.conn, s.byConsumer[consumer]
	if c == nil || sub == nil || c.closed() {
		s.mu.Unlock()
		return // not acknowledged: the consumer keeps it for the next connection
	}
	qos := sub.qos
	if q, ok := mqttMsgQoS(hdr); ok {
		qos = min(qos, q)
	}
	skip := sub.skips(natsSubject)
	if skip || qos == 0 {
		s.mu.Unlock()
		s.ackStored(consumer, sseq, cseq)
		if !skip {
			c.sendPublish(mqtt.SubjectToTopic(string(natsSubject)), 0, 0, false, false, data)
		}
		return
	}
	pi, again := s.trackLocked(mqttInflight{consumer: consumer, sseq: sseq, cseq: cseq})
	s.mu.Unlock()
	if pi != 0 { // 0: all identifiers in use; the consumer redelivers later
		c.sendPublish(mqtt.SubjectToTopic(string(natsSubject)), pi, 1, false, again || dc > 1, data)
	}
}

// skips reports whether a message on subject must not reach the
// subscription: a "$" subject for a filter starting with a wildcard, or
// one the subscriber's permissions deny.
func (sub *subscription) skips(subject []byte) bool {
	if sub.wildcardFirst && len(subject) > 0 && subject[0] == '$' {
		return true
	}
	return sub.deny.Denies(subject)
}

// trackLocked gives an in-flight message its packet identifier; a message
// sent before keeps its identifier (again is then true).
func (s *session) trackLocked(m mqttInflight) (pi uint16, again bool) {
	key := mqttDelivery{m.consumer, m.sseq}
	if m.consumer != "" {
		if pi, ok := s.byDelivery[key]; ok {
			s.inflight[pi] = m // the consumer sequence changes per delivery
			return pi, true
		}
	}
	if len(s.inflight) >= 65535 {
		return 0, false
	}
	for {
		s.nextPI++
		if _, used := s.inflight[s.nextPI]; s.nextPI != 0 && !used {
			break
		}
	}
	s.inflight[s.nextPI] = m
	if m.consumer != "" {
		s.byDelivery[key] = s.nextPI
	}
	return s.nextPI, false
}

// pubAcked handles a PUBACK: the message is acknowledged to its consumer.
func (s *session) pubAcked(pi uint16) {
	s.mu.Lock()
	m, ok := s.inflight[pi]
	if ok {
		delete(s.inflight, pi)
		delete(s.byDelivery, mqttDelivery{m.consumer, m.sseq})
	}
	s.mu.Unlock()
	if ok && m.consumer != "" {
		s.ackStored(m.consumer, m.sseq, m.cseq)
	}
}

func (s *session) ackStored(consumer string, sseq, cseq uint64) {
	if cons, err := s.ma.msgs.Consumer(consumer); err == nil {
		cons.Ack(sseq, cseq, nil)
	}
}

// jsAckPrefix starts the reply subject of every JetStream consumer
// delivery; acknowledging means publishing to it (or, here, the typed call
// it stands for).
const jsAckPrefix = "$JS.ACK."

// parseConsumerAck reads $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<time>.<pending>.
func parseConsumerAck(reply []byte) (consumer string, sseq, cseq uint64, dc int, ok bool) {
	prefix := jsAckPrefix + mqttMsgsStream + "."
	if !bytes.HasPrefix(reply, []byte(prefix)) {
		return "", 0, 0, 0, false
	}
	t := bytes.Split(reply[len(prefix):], []byte("."))
	if len(t) != 6 {
		return "", 0, 0, 0, false
	}
	d, err1 := strconv.Atoi(string(t[1]))
	sseq, err2 := strconv.ParseUint(string(t[2]), 10, 64)
	cseq, err3 := strconv.ParseUint(string(t[3]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return "", 0, 0, 0, false
	}
	return string(t[0]), sseq, cseq, d, true
}
