package jsapi_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Per-message TTLs (Nats-TTL on a stream with allow_msg_ttl) and subject
// delete markers, as the reference server behaves.

// ackError returns the error object of a publish acknowledgement exactly
// as the server wrote it ("" for none).
func ackError(t *testing.T, ack []byte) string {
	t.Helper()
	var a struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(ack, &a); err != nil {
		t.Fatalf("ack %s: %v", ack, err)
	}
	return string(a.Error)
}

func streamMsgs(t *testing.T, st jetstream.Stream) uint64 {
	t.Helper()
	info, err := st.Info(testutil.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestMsgTTLRemovesTheMessage(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowMsgTTL: true})
	c := testutil.Ctx(t)
	if _, err := js.Publish(c, "t.short", []byte("x"), jetstream.WithMsgTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(c, "t.long", []byte("y"), jetstream.WithMsgTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	js.Publish(c, "t.plain", []byte("z"))
	if n := streamMsgs(t, st); n != 3 {
		t.Fatalf("messages %d", n)
	}
	testutil.WaitFor(t, "the 1s message to expire", func() bool { return streamMsgs(t, st) == 2 })
	if _, err := st.GetLastMsgForSubject(c, "t.short"); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("expired message still there: %v", err)
	}
	// The stream info also shows the stream requires API level 1.
	info, _ := st.Info(c)
	if info.Config.Metadata["_nats.req.level"] != "1" || info.Config.Metadata["_nats.level"] == "" {
		t.Fatalf("metadata %v", info.Config.Metadata)
	}
}

// The reference server's answers to each kind of Nats-TTL value.
func TestMsgTTLValues(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowMsgTTL: true})
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "N", Subjects: []string{"n.>"}})
	invalid := apiErrorJSON(400, 10165, "invalid per-message TTL")
	for _, tc := range []struct {
		subject, ttl, wantErr string
	}{
		{"t.a", "1s", ""},
		{"t.a", "5", ""},
		{"t.a", "00", ""}, // zero: no TTL
		{"t.a", "never", ""},
		{"t.a", "1m", ""},
		{"t.a", "500ms", invalid},
		{"t.a", "0", invalid},
		{"t.a", "-1", invalid},
		{"t.a", "abc", invalid},
		{"n.a", "1s", apiErrorJSON(400, 10166, "per-message TTL is disabled")},
		{"n.a", "abc", invalid},
	} {
		m := nats.NewMsg(tc.subject)
		m.Header.Set("Nats-TTL", tc.ttl)
		r, err := nc.RequestMsg(m, testutil.MsgWait)
		if err != nil {
			t.Fatal(err)
		}
		if got := ackError(t, r.Data); got != tc.wantErr {
			t.Errorf("%s Nats-TTL %q: error %s, want %s", tc.subject, tc.ttl, got, tc.wantErr)
		}
	}
}

// A message with TTL "never" outlives the stream's max age.
func TestMsgTTLNeverOutlivesMaxAge(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowMsgTTL: true, MaxAge: 300 * time.Millisecond})
	m := nats.NewMsg("t.keep")
	m.Header.Set("Nats-TTL", "never")
	if _, err := nc.RequestMsg(m, testutil.MsgWait); err != nil {
		t.Fatal(err)
	}
	js.Publish(testutil.Ctx(t), "t.go", nil)
	testutil.WaitFor(t, "max age to remove the other message", func() bool { return streamMsgs(t, st) == 1 })
	if _, err := st.GetLastMsgForSubject(testutil.Ctx(t), "t.keep"); err != nil {
		t.Fatalf("never-expiring message gone: %v", err)
	}
}

// TTLs are rebuilt from the stored messages after a restart.
func TestMsgTTLSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, AllowMsgTTL: true})
	if _, err := js.Publish(testutil.Ctx(t), "t.a", []byte("x"), jetstream.WithMsgTTL(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	js.Publish(testutil.Ctx(t), "t.b", []byte("stays"))
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	st, err := js2.Stream(testutil.Ctx(t), "T")
	if err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, st); n != 2 {
		t.Fatalf("after restart %d messages", n)
	}
	testutil.WaitFor(t, "the TTL to expire after the restart", func() bool { return streamMsgs(t, st) == 1 })
}

// With subject delete markers, a subject's last message removed by max
// age leaves a marker with the reference server's headers; the marker
// expires after its own TTL.
func TestSubjectDeleteMarkers(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "M", Subjects: []string{"m.>"},
		MaxAge: time.Second, SubjectDeleteMarkerTTL: time.Second})
	info, _ := st.Info(testutil.Ctx(t))
	if !info.Config.AllowMsgTTL || !info.Config.AllowRollup {
		t.Fatalf("markers imply TTLs and rollups: %+v", info.Config)
	}
	c := testutil.Ctx(t)
	js.Publish(c, "m.a", []byte("1"))
	js.Publish(c, "m.a", []byte("2"))
	var marker *jetstream.RawStreamMsg
	testutil.WaitFor(t, "the marker", func() bool {
		m, err := st.GetLastMsgForSubject(c, "m.a")
		if err == nil && m.Sequence == 3 {
			marker = m
		}
		return marker != nil
	})
	if marker.Header.Get("Nats-Marker-Reason") != "MaxAge" || marker.Header.Get("Nats-TTL") != "1s" ||
		marker.Header.Get("Nats-Rollup") != "sub" || len(marker.Data) != 0 {
		t.Fatalf("marker %+v", marker)
	}
	if n := streamMsgs(t, st); n != 1 {
		t.Fatalf("with the marker: %d messages", n)
	}
	testutil.WaitFor(t, "the marker to expire", func() bool { return streamMsgs(t, st) == 0 })
	if info, _ := st.Info(c); info.State.LastSeq != 3 {
		t.Fatalf("a marker was marked again: %+v", info.State)
	}
}

// KV buckets use both: per-key TTLs and limit markers.
func TestKeyValueKeyTTLAndLimitMarkers(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	kv, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "K", LimitMarkerTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(c, "k", []byte("v"), jetstream.KeyTTL(time.Second)); err != nil {
		t.Fatal(err)
	}
	w, err := kv.Watch(c, "k", jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case e := <-w.Updates():
		if e == nil || e.Operation() != jetstream.KeyValuePurge {
			t.Fatalf("watch got %+v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no marker seen by the watcher")
	}
	if _, err := kv.Get(c, "k"); !errors.Is(err, jetstream.ErrKeyDeleted) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("get after expiry: %v", err)
	}
	testutil.WaitFor(t, "the marker to expire", func() bool {
		_, err := kv.Get(c, "k")
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
}
