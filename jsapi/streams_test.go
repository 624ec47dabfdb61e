package jsapi_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/jsapi"
)

// typedStreams is an account's JetStream without a listener: the typed
// API's callers are other adapters inside the process.
func typedStreams(t *testing.T) (*broker.Account, *jsapi.AccountStreams) {
	t.Helper()
	b, err := broker.New(config.Options{Host: "127.0.0.1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	js := jsapi.New(b, jsapi.Options{Dir: t.TempDir()})
	acc := b.GlobalAccount()
	if err := js.Enable(acc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { js.Close(); b.Shutdown() })
	return acc, js.AccountStreams(acc)
}

// outcomes collects Done results.
type outcomes struct {
	mu   sync.Mutex
	got  []jetstore.PublishResult
	done chan struct{}
	want int
}

func newOutcomes(want int) *outcomes { return &outcomes{done: make(chan struct{}), want: want} }

func (o *outcomes) record(r jetstore.PublishResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, r)
	if len(o.got) == o.want {
		close(o.done)
	}
}

func (o *outcomes) wait(t *testing.T) []jetstore.PublishResult {
	t.Helper()
	select {
	case <-o.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d of %d outcomes reported", len(o.got), o.want)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.got
}

// A typed publish reaches core subscribers like a client's publish, is
// stored by the stream that captures its subject, and reports each
// message's sequence through Done, in order.
func TestTypedPublishReachesSubscribersAndStream(t *testing.T) {
	acc, streams := typedStreams(t)
	st, created, err := streams.CreateStream(jetstore.StreamConfig{Name: "T", Subjects: []string{"t.*"}})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	seen := make(chan string, 16)
	sub, err := acc.Subscribe("t.>", "", func(subject, reply, hdr, data []byte) {
		seen <- fmt.Sprintf("%s %q %q %q", subject, reply, hdr, data)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	hdr := []byte("NATS/1.0\r\nK: v\r\n\r\n")
	out := newOutcomes(3)
	var msgs []*jetstore.InMsg
	for i := 0; i < 3; i++ {
		msgs = append(msgs, &jetstore.InMsg{Subject: "t.1", Header: hdr, Data: []byte(fmt.Sprint(i)), Done: out.record})
	}
	if n, err := streams.Publish("T", msgs, time.Second); n != 3 || err != nil {
		t.Fatalf("publish: %d %v", n, err)
	}
	for i := 0; i < 3; i++ {
		want := fmt.Sprintf("t.1 \"\" %q %q", hdr, fmt.Sprint(i))
		if got := <-seen; got != want {
			t.Fatalf("core subscriber got %s, want %s", got, want)
		}
	}
	for i, r := range out.wait(t) {
		if r.Err != nil || r.Seq != uint64(i+1) {
			t.Fatalf("outcome %d: %+v", i, r)
		}
	}
	m, err := st.Get(2)
	if err != nil || m.Subject != "t.1" || string(m.Data) != "1" || string(m.Header) != string(hdr) {
		t.Fatalf("stored: %+v %v", m, err)
	}
}

// Typed publishes and plain publishes on the same subjects at the same
// time: every message is stored once, and only the typed ones report.
func TestTypedPublishBesidePlainPublishers(t *testing.T) {
	acc, streams := typedStreams(t)
	st, _, err := streams.CreateStream(jetstore.StreamConfig{Name: "MIX", Subjects: []string{"mix"}})
	if err != nil {
		t.Fatal(err)
	}
	const perSide = 2000
	out := newOutcomes(perSide)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pub := acc.NewPublisher()
		for i := 0; i < perSide; i++ {
			pub.Publish([]byte("mix"), nil, nil, []byte("plain"))
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < perSide; i += 100 {
			batch := make([]*jetstore.InMsg, 100)
			for j := range batch {
				batch[j] = &jetstore.InMsg{Subject: "mix", Data: []byte("typed"), Done: out.record}
			}
			if n, err := streams.Publish("MIX", batch, 5*time.Second); n != len(batch) || err != nil {
				t.Errorf("typed publish: %d %v", n, err)
				return
			}
		}
	}()
	wg.Wait()
	for _, r := range out.wait(t) {
		if r.Err != nil {
			t.Fatalf("typed outcome: %v", r.Err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for st.State("", false).Msgs < 2*perSide && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	counts := map[string]int{}
	for seq := uint64(1); seq <= st.State("", false).LastSeq; seq++ {
		m, err := st.Get(seq)
		if err != nil {
			t.Fatal(err)
		}
		counts[string(m.Data)]++
	}
	if counts["plain"] != perSide || counts["typed"] != perSide {
		t.Fatalf("stored %v, want %d of each", counts, perSide)
	}
}

// A subject the stream does not capture is refused before anything is
// delivered; a stream that is gone is not found.
func TestTypedPublishRefusals(t *testing.T) {
	acc, streams := typedStreams(t)
	if _, _, err := streams.CreateStream(jetstore.StreamConfig{Name: "R", Subjects: []string{"r.1"}}); err != nil {
		t.Fatal(err)
	}
	delivered := 0
	sub, _ := acc.Subscribe(">", "", func(_, _, _, _ []byte) { delivered++ })
	defer sub.Unsubscribe()
	n, err := streams.Publish("R", []*jetstore.InMsg{{Subject: "r.1"}, {Subject: "r.2"}}, 0)
	if n != 0 || !errors.Is(err, jsapi.ErrNotCaptured) || delivered != 0 {
		t.Fatalf("uncaptured subject: %d %v, %d delivered", n, err, delivered)
	}
	if err := streams.DeleteStream("R"); err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish("R", []*jetstore.InMsg{{Subject: "r.1"}}, 0); !errors.Is(err, jetstore.ErrStreamNotFound) {
		t.Fatalf("deleted stream: %v", err)
	}
	if _, err := streams.Stream("R"); !errors.Is(err, jetstore.ErrStreamNotFound) {
		t.Fatalf("deleted stream still readable: %v", err)
	}
}

// Streams the typed API creates, updates and deletes are attached like
// the API's: a plain publish on a subject added by an update is stored,
// and none after the delete.
func TestTypedStreamLifeCycleAttaches(t *testing.T) {
	acc, streams := typedStreams(t)
	cfg := jetstore.StreamConfig{Name: "L", Subjects: []string{"l.0"}}
	st, _, err := streams.CreateStream(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := streams.CreateStream(cfg); created || err != nil {
		t.Fatalf("same configuration again: created %v, %v", created, err)
	}
	other := cfg
	other.Subjects = []string{"elsewhere"}
	if _, _, err := streams.CreateStream(other); !errors.Is(err, jetstore.ErrStreamNameInUse) {
		t.Fatalf("another configuration under the name: %v", err)
	}
	cfg.Subjects = []string{"l.0", "l.1"}
	if _, err := streams.UpdateStream(cfg); err != nil {
		t.Fatal(err)
	}
	pub := acc.NewPublisher()
	pub.Publish([]byte("l.1"), nil, nil, []byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for st.State("", false).Msgs != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := st.State("", false).Msgs; n != 1 {
		t.Fatalf("publish on the added subject: %d stored", n)
	}
	if len(streams.Streams()) != 1 {
		t.Fatalf("streams: %d", len(streams.Streams()))
	}
	if err := streams.DeleteStream("L"); err != nil {
		t.Fatal(err)
	}
	if acc.HasInterest("l.0") {
		t.Fatal("a deleted stream still captures its subjects")
	}
}

// A typed message's Options are what the stream acts on; its header is
// carried, not read: a Nats-Msg-Id header does not deduplicate, a MsgID
// option does.
func TestTypedPublishOptionsAreGivenNotRead(t *testing.T) {
	_, streams := typedStreams(t)
	if _, _, err := streams.CreateStream(jetstore.StreamConfig{Name: "D", Subjects: []string{"d"}}); err != nil {
		t.Fatal(err)
	}
	hdr := []byte("NATS/1.0\r\nNats-Msg-Id: same\r\n\r\n")
	out := newOutcomes(4)
	msgs := []*jetstore.InMsg{
		{Subject: "d", Header: hdr, Done: out.record},
		{Subject: "d", Header: hdr, Done: out.record},
		{Subject: "d", Options: &jetstore.PublishOptions{MsgID: "opt"}, Done: out.record},
		{Subject: "d", Options: &jetstore.PublishOptions{MsgID: "opt"}, Done: out.record},
	}
	if _, err := streams.Publish("D", msgs, time.Second); err != nil {
		t.Fatal(err)
	}
	got := out.wait(t)
	if got[0].Duplicate || got[1].Duplicate || got[1].Seq != 2 || got[2].Duplicate || !got[3].Duplicate || got[3].Seq != 3 {
		t.Fatalf("outcomes %+v", got)
	}
}
