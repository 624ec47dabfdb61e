package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and consumer metadata are echoed with the server's keys added;
// those keys are never stored, so sending a config back unchanged is an
// idempotent create.
func TestMetadataEchoedWithServerKeys(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "MD", Subjects: []string{"md.>"}, Metadata: map[string]string{"team": "a"}})
	info, _ := st.Info(c)
	md := info.Config.Metadata
	if md["team"] != "a" || md["_nats.req.level"] != "0" || md["_nats.level"] == "" || md["_nats.ver"] == "" {
		t.Fatalf("stream metadata %v", md)
	}
	if _, err := js.CreateStream(c, info.Config); err != nil {
		t.Fatalf("create with the echoed config: %v", err)
	}
	cons, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "C", Metadata: map[string]string{"owner": "b"},
		FilterSubjects: []string{"md.a", "md.b"}})
	if err != nil {
		t.Fatal(err)
	}
	cinfo := cons.CachedInfo()
	if cinfo.Config.Metadata["owner"] != "b" || cinfo.Config.Metadata["_nats.req.level"] != "0" ||
		len(cinfo.Config.FilterSubjects) != 2 {
		t.Fatalf("consumer %+v", cinfo.Config)
	}
	if _, err := st.CreateConsumer(c, cinfo.Config); err != nil {
		t.Fatalf("create with the echoed consumer config: %v", err)
	}
}

// A consumer with several filter subjects gets the messages of each, in
// stream order, and keeps its filters and position across a restart.
func TestFilterSubjectsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FS", Subjects: []string{"fs.*"}})
	for _, subj := range []string{"fs.a", "fs.x", "fs.b", "fs.a", "fs.y", "fs.b"} {
		js.Publish(c, subj, []byte(subj))
	}
	cons, err := st.CreateOrUpdateConsumer(c, jetstream.ConsumerConfig{Durable: "D", AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubjects: []string{"fs.a", "fs.b"}, Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if info := cons.CachedInfo(); info.NumPending != 4 {
		t.Fatalf("pending %d", info.NumPending)
	}
	for _, want := range []uint64{1, 3} {
		m := fetchOne(t, cons, time.Second)
		if md := meta(t, m); md.Sequence.Stream != want {
			t.Fatalf("got seq %d, want %d", md.Sequence.Stream, want)
		}
		m.DoubleAck(c)
	}
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	cons2, err := js2.Consumer(testutil.Ctx(t), "FS", "D")
	if err != nil {
		t.Fatal(err)
	}
	info := cons2.CachedInfo()
	if len(info.Config.FilterSubjects) != 2 || info.Config.Metadata["k"] != "v" || info.NumPending != 2 {
		t.Fatalf("after restart %+v", info)
	}
	for _, want := range []uint64{4, 6} {
		if md := meta(t, fetchOne(t, cons2, time.Second)); md.Sequence.Stream != want {
			t.Fatalf("after restart got seq %d, want %d", md.Sequence.Stream, want)
		}
	}
}
