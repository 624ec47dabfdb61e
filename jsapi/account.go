package jsapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
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

	mu           sync.Mutex
	streams      map[string]*jsStream            // by name
	consumerSubs map[string]*broker.Subscription // consumers' pull request and ack subscriptions by subject
	errPub       *broker.Publisher               // answers publishes a stream refused at once
	advPub       *broker.Publisher               // advisories (advisories.go)
}

// jsStream is the server's handle on one stream: its capture and direct-get
// subscriptions and the publisher its acks go out through.
type jsStream struct {
	st       *jetstore.Store
	stream   *jetstore.Stream
	ackStart []byte  // `{"stream":<name>` and the domain, for hand-built acks
	batches  batches // atomic batches being collected
	ackPub   *broker.Publisher
	ackLine  []byte      // scratch for ack JSON; only the stream's committer uses it
	noAck    atomic.Bool // the stream's no_ack: publishes get no ack
	subs     []*broker.Subscription
	typed    typedPublisher // other adapters' publishes (streams.go)
	// republish is the stream's republish directive, nil without one.
	republish atomic.Pointer[republisher]
	// publish takes captured messages: the stream's own queue, or, for a
	// replicated stream on its leader, the replication layer's.
	publish func(*jetstore.InMsg) error
}

// open opens the store of an account and subscribes its API.
func (j *JetStream) open(acc *broker.Account, limits jetstore.Limits) (*jsAccount, error) {
	dir := j.accountDir(acc)
	ja := &jsAccount{js: j, acc: acc, streams: make(map[string]*jsStream),
		consumerSubs: make(map[string]*broker.Subscription), errPub: acc.NewPublisher(), advPub: acc.NewPublisher()}
	store, err := jetstore.Open(dir, jetstore.Options{
		Log:             j.log.With("account", acc.Name()),
		SyncInterval:    j.opts.SyncInterval,
		BlockSize:       j.opts.BlockSize,
		Ack:             ja.sendPubAcks,
		NewSender:       ja.newSender,
		ConsumerAdded:   ja.consumerAdded,
		ConsumerRemoved: ja.consumerRemoved,
		Observer:        j.opts.Observer,
		Limits:          limits,
		Pool:            j.opts.Pool,
		MessageID:       storedMsgID,
		Headers:         storeHeaders{},
		Resolve:         ja.resolveSource,
		// A stream capturing the API with acks would answer requests.
		ReservedSubjects: j.apiSubjects(jsAPIPrefix + ">"),
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
	start := append([]byte(`{"stream":`), name...)
	if d := ja.js.opts.Domain; d != "" {
		domain, _ := json.Marshal(d)
		start = append(append(start, `,"domain":`...), domain...)
	}
	js := &jsStream{st: ja.store, stream: st, ackStart: start, ackPub: ja.acc.NewPublisher(), publish: publish}
	cfg := st.Config()
	js.noAck.Store(cfg.NoAck)
	js.republish.Store(newRepublisher(ja.acc, &cfg))
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
	traced := func(t *broker.MsgTrace, subject, reply, hdr, data []byte) {
		ja.captureTraced(js, t, subject, reply, hdr, data)
	}
	for _, subject := range cfg.Subjects {
		sub, err := ja.acc.SubscribeTraced(subject, "", capture, traced)
		if err != nil {
			ja.unsubscribeStream(js)
			return fmt.Errorf("subscribing stream %s to %q: %w", cfg.Name, subject, err)
		}
		js.subs = append(js.subs, sub)
	}
	fc, err := ja.acc.Subscribe(jsFlowControlPrefix+cfg.Name+".>", "", ja.flowControlHandler(js))
	if err != nil {
		ja.unsubscribeStream(js)
		return err
	}
	js.subs = append(js.subs, fc)
	if cfg.AllowDirect {
		for _, subject := range append(ja.js.apiSubjects(jsDirectGetPrefix+cfg.Name), ja.js.apiSubjects(jsDirectGetPrefix+cfg.Name+".>")...) {
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
	cfg := js.stream.Config()
	js.noAck.Store(cfg.NoAck)
	js.republish.Store(newRepublisher(ja.acc, &cfg))
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
	if isBatchMsg(m.Header) {
		ja.captureBatch(js, m)
		return
	}
	if err := js.publish(m); err != nil {
		ja.refusePublish(js, reply, err)
	}
}

// refusePublish answers a publish the stream refused at once.
func (ja *jsAccount) refusePublish(js *jsStream, reply []byte, err error) {
	if len(reply) == 0 {
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
	if js == nil {
		return
	}
	if rp := js.republish.Load(); rp != nil {
		rp.send(msgs, results)
	}
	if js.noAck.Load() {
		return
	}
	for i, m := range msgs {
		if len(m.Reply) == 0 {
			continue
		}
		js.ackPub.Stage(m.Reply, nil, nil, js.ackJSON(results[i], m))
	}
	js.ackPub.Flush()
}

// ackJSON renders a publish result; the success case is built by hand,
// without reflection, into a buffer reused for the next ack.
func (js *jsStream) ackJSON(ack jetstore.PublishResult, m *jetstore.InMsg) []byte {
	if ack.Err != nil {
		body, _ := json.Marshal(pubAck{Stream: js.stream.Name(), Error: toAPIError(ack.Err)})
		return body
	}
	body := append(js.ackLine[:0], js.ackStart...)
	body = append(body, `,"seq":`...)
	body = strconv.AppendUint(body, ack.Seq, 10)
	if ack.Duplicate {
		body = append(body, `,"duplicate":true`...)
	}
	if ack.Counter != "" {
		body = append(body, `,"val":`...)
		body = strconv.AppendQuote(body, ack.Counter)
	}
	if ack.BatchSize > 0 {
		body = append(body, `,"batch":`...)
		body = strconv.AppendQuote(body, string(parser.HeaderValue(m.Header, hdrBatchID)))
		body = append(body, `,"count":`...)
		body = strconv.AppendInt(body, int64(ack.BatchSize), 10)
	}
	body = append(body, '}')
	js.ackLine = body
	return body
}
