package jsapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// Each account with JetStream gets a jetstore.Store, the API subscriptions
// that route requests to it, and one capture subscription per stream
// subject that feeds published messages into the stream's ingest queue.

// jsAccount is one account's JetStream.
type jsAccount struct {
	js    *JetStream
	acc   *broker.Account
	store *jetstore.Store
	api   *jsAPI

	mu       sync.Mutex
	streams  map[string]*jsStream            // by name
	pullSubs map[string]*broker.Subscription // pull request subscriptions by subject
	errPub   *broker.Publisher               // answers publishes a stream refused at once
}

// jsStream is the server's handle on one stream: its capture and direct-get
// subscriptions and the publisher its acks go out through.
type jsStream struct {
	st       *jetstore.Store
	stream   *jetstore.Stream
	nameJSON []byte // the name as a JSON string, for hand-built acks
	ackPub   *broker.Publisher
	ackLine  []byte      // scratch for ack JSON; only the stream's committer uses it
	noAck    atomic.Bool // the stream's no_ack: publishes get no ack
	subs     []*broker.Subscription
	typed    typedPublisher // other adapters' publishes (streams.go)
	// publish takes captured messages: the stream's own queue, or, for a
	// replicated stream on its leader, the replication layer's.
	publish func(*jetstore.InMsg) error
}

// open opens the store of an account and subscribes its API.
func (j *JetStream) open(acc *broker.Account) (*jsAccount, error) {
	dir := j.accountDir(acc)
	ja := &jsAccount{js: j, acc: acc, streams: make(map[string]*jsStream),
		pullSubs: make(map[string]*broker.Subscription), errPub: acc.NewPublisher()}
	store, err := jetstore.Open(dir, jetstore.Options{
		Log:             j.log.With("account", acc.Name()),
		SyncInterval:    j.opts.SyncInterval,
		BlockSize:       j.opts.BlockSize,
		Ack:             ja.sendPubAcks,
		NewSender:       ja.newSender,
		ConsumerAdded:   ja.consumerAdded,
		ConsumerRemoved: ja.consumerRemoved,
		Observer:        j.opts.Observer,
		MessageID:       storedMsgID,
		// A stream capturing the API with acks would answer requests.
		ReservedSubjects: []string{jsAPIPrefix + ">"},
	})
	if err != nil {
		return nil, fmt.Errorf("opening JetStream store in %s: %w", dir, err)
	}
	ja.store = store
	if ja.api, err = newJSAPI(ja); err != nil {
		store.Close()
		return nil, err
	}
	if j.cluster != nil {
		// The replication layer attaches the streams this server leads.
		return ja, nil
	}
	for _, st := range store.Streams() {
		if err := ja.attach(st); err != nil {
			ja.close()
			return nil, err
		}
		state := st.State("", false)
		j.log.Info("restored stream", "account", acc.Name(), "stream", st.Name(),
			"messages", state.Msgs, "bytes", state.Bytes)
	}
	return ja, nil
}

// close stops the API and the store (which commits and acks what is queued).
func (ja *jsAccount) close() {
	ja.api.close()
	if err := ja.store.Close(); err != nil {
		ja.js.log.Error("closing JetStream store", "account", ja.acc.Name(), "error", err)
	}
}

// attach subscribes a stream's subjects (and direct get when allowed).
func (ja *jsAccount) attach(st *jetstore.Stream) error { return ja.attachWith(st, st.Publish) }

func (ja *jsAccount) attachWith(st *jetstore.Stream, publish func(*jetstore.InMsg) error) error {
	name, _ := json.Marshal(st.Name())
	js := &jsStream{st: ja.store, stream: st, nameJSON: name, ackPub: ja.acc.NewPublisher(), publish: publish}
	js.noAck.Store(st.Config().NoAck)
	if err := ja.subscribeStream(js); err != nil {
		return err
	}
	ja.mu.Lock()
	ja.streams[st.Name()] = js
	ja.mu.Unlock()
	return nil
}

func (ja *jsAccount) subscribeStream(js *jsStream) error {
	cfg := js.stream.Config()
	capture := func(subject, reply, hdr, data []byte) {
		ja.capture(js, subject, reply, hdr, data)
	}
	for _, subject := range cfg.Subjects {
		sub, err := ja.acc.Subscribe(subject, "", capture)
		if err != nil {
			ja.unsubscribeStream(js)
			return fmt.Errorf("subscribing stream %s to %q: %w", cfg.Name, subject, err)
		}
		js.subs = append(js.subs, sub)
	}
	ack, err := ja.acc.Subscribe(jsAckPrefix+cfg.Name+".>", "", ja.ackHandler(js))
	if err != nil {
		ja.unsubscribeStream(js)
		return err
	}
	js.subs = append(js.subs, ack)
	fc, err := ja.acc.Subscribe(jsFlowControlPrefix+cfg.Name+".>", "", ja.flowControlHandler(js))
	if err != nil {
		ja.unsubscribeStream(js)
		return err
	}
	js.subs = append(js.subs, fc)
	if cfg.AllowDirect {
		for _, subject := range []string{jsDirectGetPrefix + cfg.Name, jsDirectGetPrefix + cfg.Name + ".>"} {
			sub, err := ja.acc.Subscribe(subject, "", ja.api.enqueue)
			if err != nil {
				ja.unsubscribeStream(js)
				return err
			}
			js.subs = append(js.subs, sub)
		}
	}
	return nil
}

func (ja *jsAccount) unsubscribeStream(js *jsStream) {
	for _, sub := range js.subs {
		sub.Unsubscribe()
	}
	js.subs = nil
}

// resubscribe follows a configuration change (subjects, allow_direct).
func (ja *jsAccount) resubscribe(name string) error {
	ja.mu.Lock()
	js := ja.streams[name]
	ja.mu.Unlock()
	if js == nil {
		return nil
	}
	ja.unsubscribeStream(js)
	js.noAck.Store(js.stream.Config().NoAck)
	return ja.subscribeStream(js)
}

// detach unsubscribes a deleted stream.
func (ja *jsAccount) detach(name string) {
	ja.mu.Lock()
	js := ja.streams[name]
	delete(ja.streams, name)
	ja.mu.Unlock()
	if js != nil {
		ja.unsubscribeStream(js)
	}
}

func (ja *jsAccount) lookup(name string) *jsStream {
	ja.mu.Lock()
	defer ja.mu.Unlock()
	return ja.streams[name]
}

// capture runs in the publisher's read loop: copy the message into the
// stream's queue and return. A refusal is answered at once.
func (ja *jsAccount) capture(js *jsStream, subject, reply, hdr, data []byte) {
	if js.typed.claims(subject) {
		js.typed.take(js.stream)
		return
	}
	m := jetstore.NewInMsg(subject, reply, hdr, data)
	m.Options = publishOptions(m.Header)
	err := js.publish(m)
	if err == nil || len(reply) == 0 {
		return
	}
	body, _ := json.Marshal(pubAck{Stream: js.stream.Name(), Error: toAPIError(err)})
	ja.errPub.Publish(reply, nil, nil, body)
}

// sendPubAcks is the store's AckFunc: it runs on the stream's committer,
// in sequence order, once the batch is durable. All acks of a batch go out
// with one wake-up per receiving connection.
func (ja *jsAccount) sendPubAcks(st *jetstore.Stream, msgs []*jetstore.InMsg, results []jetstore.PublishResult) {
	js := ja.lookup(st.Name())
	if js == nil || js.noAck.Load() {
		return
	}
	for i, m := range msgs {
		if len(m.Reply) == 0 {
			continue
		}
		js.ackPub.Stage(m.Reply, nil, nil, js.ackJSON(results[i]))
	}
	js.ackPub.Flush()
}

// ackJSON renders a publish result; the success case is built by hand,
// without reflection, into a buffer reused for the next ack.
func (js *jsStream) ackJSON(ack jetstore.PublishResult) []byte {
	if ack.Err != nil {
		body, _ := json.Marshal(pubAck{Stream: js.stream.Name(), Error: toAPIError(ack.Err)})
		return body
	}
	body := append(js.ackLine[:0], `{"stream":`...)
	body = append(body, js.nameJSON...)
	body = append(body, `,"seq":`...)
	body = strconv.AppendUint(body, ack.Seq, 10)
	if ack.Duplicate {
		body = append(body, `,"duplicate":true`...)
	}
	body = append(body, '}')
	js.ackLine = body
	return body
}
