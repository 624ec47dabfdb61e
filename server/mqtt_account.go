package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nuid"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
)

// An account's MQTT state lives in three streams of its JetStream store,
// created on the first MQTT connection into the account (as nats-server
// names them, but with midge's own record formats):
//
//	$MQTT_msgs   $MQTT.msgs.<subject>   QoS 1 messages; interest retention, so
//	                                    a message goes once every QoS 1
//	                                    subscription (a durable consumer) acked it
//	$MQTT_rmsgs  $MQTT.rmsgs.<subject>  retained messages, one per subject; an
//	                                    empty message is a deletion
//	$MQTT_sess   $MQTT.sess.<hash>      persistent sessions (JSON), one per
//	                                    client identifier; empty once ended
//
// Stored messages carry the header "Nmqtt-Pub: <qos>" with the QoS they
// were published with. Writes go straight into the streams with a reply
// subject of the account's ack inbox; the store's acknowledgement, sent
// once the record is durable, completes the write (a PUBACK, a SUBACK).

const (
	mqttMsgsStream   = "$MQTT_msgs"
	mqttRetainStream = "$MQTT_rmsgs"
	mqttSessStream   = "$MQTT_sess"

	mqttReservedPrefix = "$MQTT."
	mqttMsgsPrefix     = "$MQTT.msgs."
	mqttRetainPrefix   = "$MQTT.rmsgs."
	mqttSessPrefix     = "$MQTT.sess."
	mqttDeliverPrefix  = "$MQTT.sub."
	mqttAckInboxPrefix = "$MQTT.JSA."

	// mqttQoSHeader marks a message published over MQTT with its QoS.
	mqttQoSHeader = "Nmqtt-Pub"

	// mqttStoreWait bounds a synchronous store write (session records).
	mqttStoreWait = 10 * time.Second
)

// mqttQoSHeaders are the stored headers for QoS 0 and 1.
var mqttQoSHeaders = [2][]byte{
	[]byte("NATS/1.0\r\n" + mqttQoSHeader + ": 0\r\n\r\n"),
	[]byte("NATS/1.0\r\n" + mqttQoSHeader + ": 1\r\n\r\n"),
}

// mqttAccount is one account's MQTT state.
type mqttAccount struct {
	ms  *mqttServer
	acc *Account
	ja  *jsAccount // nil without JetStream: QoS 0 and clean sessions only

	msgs, retained, sessions *jetstore.Stream

	ackInbox string // $MQTT.JSA.<id>. ; the store's acks arrive on <ackInbox><token>
	ackSub   *Subscription
	token    atomic.Uint64
	willPub  *Publisher

	connectMu sync.Mutex // serializes openSession

	mu      sync.Mutex
	waiters map[uint64]func(error)
	live    map[string]*mqttSession // sessions known in memory, by client identifier
}

// account returns the account's MQTT state, creating it (and its streams)
// on first use.
func (ms *mqttServer) account(acc *Account) (*mqttAccount, error) {
	ms.accMu.Lock()
	defer ms.accMu.Unlock()
	if ma := ms.accounts[acc]; ma != nil {
		return ma, nil
	}
	ma := &mqttAccount{ms: ms, acc: acc, ja: acc.js, willPub: acc.NewPublisher(),
		waiters: make(map[uint64]func(error)), live: make(map[string]*mqttSession)}
	if ma.ja != nil {
		if err := ma.openStreams(); err != nil {
			return nil, err
		}
	}
	ms.accounts[acc] = ma
	return ma, nil
}

// persistent reports whether QoS 1, retained messages and persistent
// sessions are available (JetStream is on).
func (ma *mqttAccount) persistent() bool { return ma.ja != nil }

func (ma *mqttAccount) openStreams() error {
	var err error
	base := jetstore.StreamConfig{Storage: jetstore.StorageFile, Retention: jetstore.RetentionLimits}
	msgs := base
	msgs.Name, msgs.Subjects, msgs.Retention = mqttMsgsStream, []string{mqttMsgsPrefix + ">"}, jetstore.RetentionInterest
	if ma.msgs, err = ma.ensureStream(msgs); err != nil {
		return err
	}
	ret := base
	ret.Name, ret.Subjects, ret.MaxMsgsPerSubject = mqttRetainStream, []string{mqttRetainPrefix + ">"}, 1
	if ma.retained, err = ma.ensureStream(ret); err != nil {
		return err
	}
	sess := base
	sess.Name, sess.Subjects, sess.MaxMsgsPerSubject = mqttSessStream, []string{mqttSessPrefix + ">"}, 1
	if ma.sessions, err = ma.ensureStream(sess); err != nil {
		return err
	}
	ma.ackInbox = mqttAckInboxPrefix + nuid.Next() + "."
	ma.ackSub, err = ma.acc.Subscribe(ma.ackInbox+"*", "", ma.storeAcked)
	return err
}

// ensureStream creates a stream, or takes the existing one (restored at
// start, or with a configuration an operator changed).
func (ma *mqttAccount) ensureStream(cfg jetstore.StreamConfig) (*jetstore.Stream, error) {
	st, created, err := ma.ja.store.AddStream(cfg)
	if errors.Is(err, jetstore.ErrStreamNameInUse) {
		return ma.ja.store.Stream(cfg.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", cfg.Name, err)
	}
	if created {
		if err := ma.ja.attach(st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// store queues a record into a stream; done (if not nil) is called on the
// stream's committer once the record is durable, or with the failure. It
// must be quick.
func (ma *mqttAccount) store(st *jetstore.Stream, subject string, hdr, data []byte, done func(error)) error {
	var reply []byte
	var token uint64
	if done != nil {
		token = ma.token.Add(1)
		reply = strconv.AppendUint([]byte(ma.ackInbox), token, 10)
		ma.mu.Lock()
		ma.waiters[token] = done
		ma.mu.Unlock()
	}
	m := jetstore.NewInMsg([]byte(subject), reply, hdr, data)
	if err := st.Publish(m); err != nil {
		if done != nil {
			ma.mu.Lock()
			delete(ma.waiters, token)
			ma.mu.Unlock()
		}
		return err
	}
	return nil
}

// storeSync is store that waits for the outcome.
func (ma *mqttAccount) storeSync(st *jetstore.Stream, subject string, hdr, data []byte) error {
	result := make(chan error, 1)
	if err := ma.store(st, subject, hdr, data, func(err error) { result <- err }); err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-time.After(mqttStoreWait):
		return fmt.Errorf("stream %s did not acknowledge a write within %v", st.Name(), mqttStoreWait)
	}
}

// storeAcked receives the store's acknowledgements (JSON PubAcks).
func (ma *mqttAccount) storeAcked(subject, _, _, data []byte) {
	token, err := strconv.ParseUint(string(subject[len(ma.ackInbox):]), 10, 64)
	if err != nil {
		return
	}
	ma.mu.Lock()
	done := ma.waiters[token]
	delete(ma.waiters, token)
	ma.mu.Unlock()
	if done == nil {
		return
	}
	if !bytes.Contains(data, []byte(`"error"`)) {
		done(nil)
		return
	}
	var ack pubAck
	if json.Unmarshal(data, &ack) == nil && ack.Error != nil {
		done(ack.Error)
		return
	}
	done(fmt.Errorf("store refused the write: %s", data))
}

// mqttMsgQoS reads the QoS a stored or forwarded message was published
// with; messages that did not come from MQTT have none (ok false).
func mqttMsgQoS(hdr []byte) (qos byte, ok bool) {
	if len(hdr) == 0 {
		return 0, false
	}
	v := parser.HeaderValue(hdr, mqttQoSHeader)
	if len(v) != 1 || v[0] < '0' || v[0] > '2' {
		return 0, false
	}
	return v[0] - '0', true
}
