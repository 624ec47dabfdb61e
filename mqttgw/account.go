package mqttgw

import (
	"fmt"
	"sync"
	"time"

	"github.com/midgemq/midge/broker"
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
// were published with. Writes go straight into the streams; the store's
// outcome, reported once the record is durable, completes the write (a
// PUBACK, a SUBACK).

const (
	mqttMsgsStream   = "$MQTT_msgs"
	mqttRetainStream = "$MQTT_rmsgs"
	mqttSessStream   = "$MQTT_sess"

	mqttReservedPrefix = "$MQTT."
	mqttMsgsPrefix     = "$MQTT.msgs."
	mqttRetainPrefix   = "$MQTT.rmsgs."
	mqttSessPrefix     = "$MQTT.sess."
	mqttDeliverPrefix  = "$MQTT.sub."

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

// account is one account's MQTT state.
type account struct {
	ms  *Gateway
	acc *broker.Account
	// persistent: the account has JetStream; without it QoS 0 and clean
	// sessions only.
	persistent bool

	msgs, retained, sessions *jetstore.Stream

	willPub *broker.Publisher

	connectMu sync.Mutex // serializes openSession

	mu   sync.Mutex
	live map[string]*session // sessions known in memory, by client identifier
}

// account returns the account's MQTT state, creating it (and its streams)
// on first use.
func (ms *Gateway) account(acc *broker.Account) (*account, error) {
	ms.accMu.Lock()
	defer ms.accMu.Unlock()
	if ma := ms.accounts[acc]; ma != nil {
		return ma, nil
	}
	ma := &account{ms: ms, acc: acc, persistent: ms.streams.Enabled(acc), willPub: acc.NewPublisher(),
		live: make(map[string]*session)}
	if ma.persistent {
		if err := ma.openStreams(); err != nil {
			return nil, err
		}
	}
	ms.accounts[acc] = ma
	return ma, nil
}

func (ma *account) openStreams() error {
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
	ma.sessions, err = ma.ensureStream(sess)
	return err
}

// ensureStream creates a stream, or takes the existing one (restored at
// start, or with a configuration an operator changed).
func (ma *account) ensureStream(cfg jetstore.StreamConfig) (*jetstore.Stream, error) {
	return ma.ms.streams.EnsureStream(ma.acc, cfg)
}

// store queues a record into a stream; done (if not nil) is called on the
// stream's committer once the record is durable, or with the failure. It
// must be quick.
func (ma *account) store(st *jetstore.Stream, subject string, hdr, data []byte, done func(error)) error {
	m := jetstore.NewInMsg([]byte(subject), nil, hdr, data)
	if done != nil {
		m.Done = func(r jetstore.PublishResult) { done(r.Err) }
	}
	return st.Publish(m)
}

// storeSync is store that waits for the outcome.
func (ma *account) storeSync(st *jetstore.Stream, subject string, hdr, data []byte) error {
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
