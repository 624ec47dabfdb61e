package jsapi_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Atomic batch publish, as the reference server behaves (every answer
// below was compared with nats-server 2.15.2).

// batchPub publishes one batch message and returns the raw answer.
func batchPub(t *testing.T, nc *nats.Conn, subject, id string, seq int, commit string, extra ...string) string {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(fmt.Sprint(subject, seq))
	m.Header.Set("Nats-Batch-Id", id)
	if seq > 0 {
		m.Header.Set("Nats-Batch-Sequence", fmt.Sprint(seq))
	}
	if commit != "" {
		m.Header.Set("Nats-Batch-Commit", commit)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		m.Header.Set(extra[i], extra[i+1])
	}
	r, err := nc.RequestMsg(m, testutil.MsgWait)
	if err != nil {
		t.Fatalf("%s %s/%d: %v", subject, id, seq, err)
	}
	return string(r.Data)
}

func TestAtomicBatchPublish(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	nc, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "NB", Subjects: []string{"nb"}})
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "BA", Subjects: []string{"ba.>"}, AllowAtomicPublish: true})
	if info, _ := st.Info(testutil.Ctx(t)); info.Config.Metadata["_nats.req.level"] != "2" {
		t.Fatalf("metadata %v", info.Config.Metadata)
	}
	errAck := func(stream string, code, errCode int, desc string) string {
		return fmt.Sprintf(`{"stream":%q,"seq":0,"error":%s}`, stream, apiErrorJSON(code, errCode, desc))
	}
	for _, tc := range []struct {
		subject, id string
		seq         int
		commit      string
		extra       []string
		want        string
	}{
		{"nb", "x", 1, "1", nil, errAck("NB", 400, 10174, "atomic publish is disabled")},
		{"ba.a", "b1", 1, "", nil, ""},
		{"ba.b", "b1", 2, "", nil, ""},
		{"ba.c", "b1", 3, "1", nil, `{"stream":"BA","seq":3,"batch":"b1","count":3}`},
		{"ba.a", "b2", 1, "", nil, ""},
		{"ba.a", "b2", 2, "eob", nil, `{"stream":"BA","seq":4,"batch":"b2","count":1}`},
		{"ba.a", "b3", 2, "", nil, errAck("BA", 400, 10176, "atomic publish batch is incomplete")},
		{"ba.a", "b4", 1, "", nil, ""},
		{"ba.a", "b4", 3, "", nil, errAck("BA", 400, 10176, "atomic publish batch is incomplete")},
		{"ba.a", "b5", 0, "", nil, errAck("BA", 400, 10175, "atomic publish sequence is missing")},
		{"ba.a", "b6", 1, "x", nil, errAck("BA", 400, 10200, "atomic publish batch commit is invalid")},
		{"ba.a", "b7", 1, "", []string{"Nats-Msg-Id", "d"}, ""},
		{"ba.a", "b7", 2, "1", []string{"Nats-Msg-Id", "d"}, errAck("BA", 400, 10201, "atomic publish batch contains duplicate message id")},
		{"ba.a", "b8", 1, "", nil, ""},
		{"ba.a", "b8", 2, "1", []string{"Nats-Expected-Last-Sequence", "1"}, errAck("BA", 400, 10071, "wrong last sequence: 5")},
		{"ba.a", "b9", 1, "", []string{"Nats-Expected-Last-Msg-Id", "z"}, ""},
		{"ba.a", "b9", 2, "1", nil, errAck("BA", 400, 10177, "atomic publish unsupported header used: Nats-Expected-Last-Msg-Id")},
		{"ba.a", strings.Repeat("z", 65), 1, "1", nil, errAck("BA", 400, 10179, "atomic publish batch ID is invalid")},
		{"ba.a", "b11", 1001, "1", nil, errAck("BA", 400, 10199, "atomic publish batch is too large: 1000")},
	} {
		if got := batchPub(t, nc, tc.subject, tc.id, tc.seq, tc.commit, tc.extra...); got != tc.want {
			t.Errorf("%s %s/%d %q:\n got %s\nwant %s", tc.subject, tc.id, tc.seq, tc.commit, got, tc.want)
		}
	}
	// Nothing of a refused batch was stored.
	info, _ := st.Info(testutil.Ctx(t))
	if info.State.Msgs != 4 || info.State.LastSeq != 4 {
		t.Fatalf("state %+v", info.State)
	}
	m, _ := st.GetMsg(testutil.Ctx(t), 4)
	if m.Header.Get("Nats-Batch-Commit") != "1" || m.Header.Get("Nats-Batch-Id") != "b2" {
		t.Fatalf("end-of-batch commit marks the last stored message: %v", m.Header)
	}
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	st2, _ := js2.Stream(testutil.Ctx(t), "BA")
	if info, _ := st2.Info(testutil.Ctx(t)); info.State.Msgs != 4 {
		t.Fatalf("after restart %+v", info.State)
	}
}

// A consumer sees a batch whole: never a part of it.
func TestAtomicBatchVisibleWhole(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "BV", Subjects: []string{"bv"}, AllowAtomicPublish: true})
	for i := 1; i < 50; i++ {
		if got := batchPub(t, nc, "bv", "whole", i, ""); got != "" {
			t.Fatalf("message %d: %s", i, got)
		}
	}
	if info, _ := st.Info(testutil.Ctx(t)); info.State.Msgs != 0 {
		t.Fatalf("stored before the commit: %+v", info.State)
	}
	if got := batchPub(t, nc, "bv", "whole", 50, "1"); got != `{"stream":"BV","seq":50,"batch":"whole","count":50}` {
		t.Fatalf("commit: %s", got)
	}
	if info, _ := st.Info(testutil.Ctx(t)); info.State.Msgs != 50 {
		t.Fatalf("after the commit: %+v", info.State)
	}
}
