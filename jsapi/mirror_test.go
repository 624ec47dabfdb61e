package jsapi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Mirrors, as the reference server behaves (compared scenario by scenario
// with nats-server 2.15.2).

// waitForMsg polls until the stream holds seq (a copy is readable once it
// is durable).
func waitForMsg(t *testing.T, st jetstream.Stream, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	var m *jetstream.RawStreamMsg
	testutil.WaitFor(t, fmt.Sprintf("message %d", seq), func() bool {
		var err error
		m, err = st.GetMsg(testutil.Ctx(t), seq)
		return err == nil
	})
	return m
}

func TestMirrorKeepsSequencesAndFollows(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	orig := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORIG", Subjects: []string{"o.>"}})
	for i := 1; i <= 10; i++ {
		m := nats.NewMsg(map[bool]string{true: "o.a", false: "o.b"}[i%2 == 1])
		m.Data = []byte(fmt.Sprint(i))
		m.Header.Set("Nats-Msg-Id", fmt.Sprint("id", i))
		if _, err := js.PublishMsg(c, m); err != nil {
			t.Fatal(err)
		}
	}
	orig.DeleteMsg(c, 5)
	mir := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "MIR", Mirror: &jetstream.StreamSource{Name: "ORIG"}})
	waitForMsg(t, mir, 10)
	info, _ := mir.Info(c)
	if st := info.State; st.Msgs != 9 || st.FirstSeq != 1 || st.LastSeq != 10 || st.NumDeleted != 1 || len(info.Config.Subjects) != 0 {
		t.Fatalf("mirror state %+v subjects %v", st, info.Config.Subjects)
	}
	if info.Mirror == nil || info.Mirror.Name != "ORIG" || info.Mirror.Lag != 0 || info.Mirror.Error != nil {
		t.Fatalf("mirror info %+v", info.Mirror)
	}
	for _, seq := range []uint64{1, 4, 10} {
		a, _ := orig.GetMsg(c, seq)
		b := waitForMsg(t, mir, seq)
		if a.Subject != b.Subject || string(a.Data) != string(b.Data) || !a.Time.Equal(b.Time) || b.Header.Get("Nats-Msg-Id") != a.Header.Get("Nats-Msg-Id") {
			t.Fatalf("seq %d differs: %+v vs %+v", seq, a, b)
		}
	}
	// Live writes follow; the mirror itself captures nothing.
	js.Publish(c, "o.c", []byte("live"))
	if m := waitForMsg(t, mir, 11); string(m.Data) != "live" {
		t.Fatalf("live copy %q", m.Data)
	}
	if n := streamMsgs(t, orig); n != 10 {
		t.Fatalf("origin has %d", n)
	}

	_, err := js.CreateStream(c, jetstream.StreamConfig{Name: "BAD", Subjects: []string{"x"}, Mirror: &jetstream.StreamSource{Name: "ORIG"}})
	testutil.WantAPIError(t, err, 10034)
	_, err = js.CreateStream(c, jetstream.StreamConfig{Name: "BAD", Mirror: &jetstream.StreamSource{Name: "ORIG"}, Sources: []*jetstream.StreamSource{{Name: "ORIG"}}})
	testutil.WantAPIError(t, err, 10031)
	_, err = js.UpdateStream(c, jetstream.StreamConfig{Name: "MIR", Mirror: &jetstream.StreamSource{Name: "ORIG", FilterSubject: "o.b"}})
	testutil.WantAPIError(t, err, 10055)
	_, err = js.UpdateStream(c, jetstream.StreamConfig{Name: "MIR", Subjects: []string{"x"}, Mirror: &jetstream.StreamSource{Name: "ORIG"}})
	testutil.WantAPIError(t, err, 10034)
	// A message meant for the mirror by subject reaches nobody.
	if _, err := nc.Request("MIR", nil, 300*time.Millisecond); err == nil {
		t.Fatal("a publish reached the mirror")
	}

	// Removing the mirror promotes the stream: it stops copying.
	if _, err := js.UpdateStream(c, jetstream.StreamConfig{Name: "MIR", Subjects: []string{"promoted"}}); err != nil {
		t.Fatalf("promote: %v", err)
	}
	js.Publish(c, "o.c", []byte("after promotion"))
	if ack, err := js.Publish(c, "promoted", []byte("own")); err != nil || ack.Stream != "MIR" || ack.Sequence != 12 {
		t.Fatalf("promoted stream publish: %+v %v", ack, err)
	}
}

func TestFilteredAndTransformedMirror(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORIG", Subjects: []string{"o.>"}})
	for i := 1; i <= 9; i++ {
		js.Publish(c, map[bool]string{true: "o.a", false: "o.b"}[i%2 == 1], []byte(fmt.Sprint(i)))
	}
	fm := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FM", Mirror: &jetstream.StreamSource{Name: "ORIG", FilterSubject: "o.a"}})
	waitForMsg(t, fm, 9)
	info, _ := fm.Info(c)
	if st := info.State; st.Msgs != 5 || st.FirstSeq != 1 || st.LastSeq != 9 || st.NumDeleted != 4 {
		t.Fatalf("filtered mirror %+v", st)
	}
	tm := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "TM", Mirror: &jetstream.StreamSource{Name: "ORIG",
		SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "o.*", Destination: "m.$1"}}}})
	if m := waitForMsg(t, tm, 2); m.Subject != "m.b" {
		t.Fatalf("transformed subject %s", m.Subject)
	}
	_, err := js.CreateStream(c, jetstream.StreamConfig{Name: "BAD", Mirror: &jetstream.StreamSource{Name: "ORIG", FilterSubject: "o.a",
		SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "o.*", Destination: "m.$1"}}}})
	testutil.WantAPIError(t, err, 10150)
}

// A mirror created before its origin waits for it; a mirror restarted
// resumes after its last copy, with neither gaps nor duplicates.
func TestMirrorResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	mir := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "MIR", Mirror: &jetstream.StreamSource{Name: "ORIG"}})
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORIG", Subjects: []string{"o"}})
	publishN(t, js, "o", 50)
	waitForMsg(t, mir, 50)
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	c2 := testutil.Ctx(t)
	publishN(t, js2, "o", 50)
	mir2, err := js2.Stream(c2, "MIR")
	if err != nil {
		t.Fatal(err)
	}
	waitForMsg(t, mir2, 100)
	info, _ := mir2.Info(c2)
	if info.State.Msgs != 100 || info.State.FirstSeq != 1 || info.State.LastSeq != 100 {
		t.Fatalf("after restart %+v", info.State)
	}
	for seq := uint64(1); seq <= 100; seq++ {
		m, err := mir2.GetMsg(c2, seq)
		if err != nil || string(m.Data) != fmt.Sprint((seq-1)%50) {
			t.Fatalf("seq %d: %v %v", seq, m, err)
		}
	}
}
