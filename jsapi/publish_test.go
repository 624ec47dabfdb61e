package jsapi_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestPublishAckAndDedup(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "D", Subjects: []string{"d.*"}})
	ack, err := js.Publish(testutil.Ctx(t), "d.1", []byte("a"), jetstream.WithMsgID("m1"))
	if err != nil || ack.Stream != "D" || ack.Sequence != 1 || ack.Duplicate {
		t.Fatalf("first: %+v %v", ack, err)
	}
	ack, err = js.Publish(testutil.Ctx(t), "d.1", []byte("a again"), jetstream.WithMsgID("m1"))
	if err != nil || ack.Sequence != 1 || !ack.Duplicate {
		t.Fatalf("duplicate: %+v %v", ack, err)
	}
	ack, _ = js.Publish(testutil.Ctx(t), "d.2", []byte("b"), jetstream.WithMsgID("m2"))
	if ack.Sequence != 2 {
		t.Fatalf("second id: %+v", ack)
	}
}

func TestPublishExpectations(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "E", Subjects: []string{"e.>"}})
	c := testutil.Ctx(t)
	js.Publish(c, "e.a", nil, jetstream.WithMsgID("id-1")) // seq 1
	js.Publish(c, "e.b", nil)                              // seq 2

	_, err := js.Publish(c, "e.a", nil, jetstream.WithExpectStream("OTHER"))
	testutil.WantAPIError(t, err, 10060)
	_, err = js.Publish(c, "e.a", nil, jetstream.WithExpectLastSequence(1))
	testutil.WantAPIError(t, err, 10071)
	if !strings.Contains(err.Error(), "wrong last sequence: 2") {
		t.Fatalf("error text %v", err)
	}
	if ack, err := js.Publish(c, "e.a", nil, jetstream.WithExpectLastSequence(2)); err != nil || ack.Sequence != 3 {
		t.Fatalf("expected last seq ok: %v", err)
	}
	_, err = js.Publish(c, "e.b", nil, jetstream.WithExpectLastSequencePerSubject(1))
	testutil.WantAPIError(t, err, 10071)
	if ack, err := js.Publish(c, "e.b", nil, jetstream.WithExpectLastSequencePerSubject(2)); err != nil || ack.Sequence != 4 {
		t.Fatalf("expected subject seq ok: %v", err)
	}
	// 0 means "no message on this subject yet".
	if _, err := js.Publish(c, "e.new", nil, jetstream.WithExpectLastSequencePerSubject(0)); err != nil {
		t.Fatalf("subject seq 0 on new subject: %v", err)
	}
	_, err = js.Publish(c, "e.new", nil, jetstream.WithExpectLastSequencePerSubject(0))
	testutil.WantAPIError(t, err, 10071)
	_, err = js.Publish(c, "e.a", nil, jetstream.WithExpectLastMsgID("nope"))
	testutil.WantAPIError(t, err, 10070)
	if _, err := js.Publish(c, "e.a", nil, jetstream.WithExpectLastMsgID("id-1")); err != nil {
		t.Fatalf("expected last msg id: %v", err)
	}
}

func TestRollup(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "NR", Subjects: []string{"nr.>"}})
	m := nats.NewMsg("nr.x")
	m.Header.Set("Nats-Rollup", "sub")
	_, err := js.PublishMsg(testutil.Ctx(t), m)
	testutil.WantAPIError(t, err, 10111)

	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"}, AllowRollup: true})
	for i := 0; i < 3; i++ {
		js.Publish(testutil.Ctx(t), "r.a", nil)
		js.Publish(testutil.Ctx(t), "r.b", nil)
	}
	m = nats.NewMsg("r.a")
	m.Header.Set("Nats-Rollup", "sub")
	js.PublishMsg(testutil.Ctx(t), m)
	info, _ := st.Info(testutil.Ctx(t))
	if info.State.Msgs != 4 { // one r.a, three r.b
		t.Fatalf("after subject rollup: %d msgs", info.State.Msgs)
	}
	m = nats.NewMsg("r.b")
	m.Header.Set("Nats-Rollup", "all")
	js.PublishMsg(testutil.Ctx(t), m)
	info, _ = st.Info(testutil.Ctx(t))
	if info.State.Msgs != 1 || info.State.FirstSeq != 8 {
		t.Fatalf("after full rollup: %+v", info.State)
	}
	m = nats.NewMsg("r.b")
	m.Header.Set("Nats-Rollup", "bogus")
	_, err = js.PublishMsg(testutil.Ctx(t), m)
	testutil.WantAPIError(t, err, 10111)
	_ = nc
}

func TestLimits(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)

	old := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "OLD", Subjects: []string{"old"}, MaxMsgs: 3})
	for i := 0; i < 5; i++ {
		js.Publish(c, "old", []byte{byte(i)})
	}
	if info, _ := old.Info(c); info.State.Msgs != 3 || info.State.FirstSeq != 3 {
		t.Fatalf("max_msgs discard old: %+v", info.State)
	}

	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "NEW", Subjects: []string{"new"}, MaxMsgs: 1, Discard: jetstream.DiscardNew})
	js.Publish(c, "new", nil)
	_, err := js.Publish(c, "new", nil)
	testutil.WantAPIError(t, err, 10077)

	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "BYTES", Subjects: []string{"bytes"}, MaxBytes: 100, Discard: jetstream.DiscardNew})
	js.Publish(c, "bytes", make([]byte, 50))
	_, err = js.Publish(c, "bytes", make([]byte, 50))
	if err == nil || !strings.Contains(err.Error(), "maximum bytes exceeded") {
		t.Fatalf("max_bytes discard new: %v", err)
	}
	ob := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "OBYTES", Subjects: []string{"obytes"}, MaxBytes: 200})
	for i := 0; i < 10; i++ {
		js.Publish(c, "obytes", make([]byte, 50))
	}
	if info, _ := ob.Info(c); info.State.Bytes > 200 || info.State.Msgs == 0 {
		t.Fatalf("max_bytes discard old: %+v", info.State)
	}

	// Per-subject limit discards the oldest on that subject even under
	// discard new (KV history depends on it).
	ps := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PS", Subjects: []string{"ps.*"}, MaxMsgsPerSubject: 2, Discard: jetstream.DiscardNew})
	for i := 0; i < 5; i++ {
		if _, err := js.Publish(c, "ps.a", []byte{byte(i)}); err != nil {
			t.Fatalf("per-subject publish %d: %v", i, err)
		}
	}
	js.Publish(c, "ps.b", nil)
	if info, _ := ps.Info(c); info.State.Msgs != 3 {
		t.Fatalf("per subject: %+v", info.State)
	}
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PSN", Subjects: []string{"psn"}, MaxMsgsPerSubject: 1,
		Discard: jetstream.DiscardNew, DiscardNewPerSubject: true})
	js.Publish(c, "psn", nil)
	_, err = js.Publish(c, "psn", nil)
	if err == nil || !strings.Contains(err.Error(), "maximum messages per subject exceeded") {
		t.Fatalf("discard new per subject: %v", err)
	}

	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "SIZE", Subjects: []string{"size"}, MaxMsgSize: 5})
	_, err = js.Publish(c, "size", []byte("12345678"))
	testutil.WantAPIError(t, err, 10054)
}

func TestMaxAge(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "AGE", Subjects: []string{"age"}, MaxAge: 200 * time.Millisecond})
	js.Publish(testutil.Ctx(t), "age", nil)
	js.Publish(testutil.Ctx(t), "age", nil)
	testutil.WaitFor(t, "messages expire", func() bool {
		info, err := st.Info(testutil.Ctx(t))
		return err == nil && info.State.Msgs == 0 && info.State.FirstSeq == 3
	})
	_, err := js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "TOOSHORT", MaxAge: time.Millisecond})
	testutil.WantAPIError(t, err, 10052)
}

func TestPurgeVariants(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "P", Subjects: []string{"p.*"}})
	fill := func() {
		for i := 0; i < 10; i++ {
			js.Publish(c, fmt.Sprintf("p.%d", i%2), nil)
		}
	}
	msgs := func() uint64 { info, _ := st.Info(c); return info.State.Msgs }
	fill()
	st.Purge(c, jetstream.WithPurgeSubject("p.0"))
	if n := msgs(); n != 5 {
		t.Fatalf("purge subject left %d", n)
	}
	st.Purge(c, jetstream.WithPurgeSubject("p.1"), jetstream.WithPurgeKeep(2))
	if n := msgs(); n != 2 {
		t.Fatalf("purge subject keep 2 left %d", n)
	}
	fill() // seqs 11..20
	st.Purge(c, jetstream.WithPurgeSequence(15))
	if info, _ := st.Info(c); info.State.FirstSeq != 15 || info.State.Msgs != 6 {
		t.Fatalf("purge up to 15: %+v", info.State)
	}
	st.Purge(c, jetstream.WithPurgeKeep(3))
	if n := msgs(); n != 3 {
		t.Fatalf("purge keep 3 left %d", n)
	}
	st.Purge(c)
	if info, _ := st.Info(c); info.State.Msgs != 0 || info.State.FirstSeq != 21 || info.State.LastSeq != 20 {
		t.Fatalf("purge all: %+v", info.State)
	}
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "NOPURGE", Subjects: []string{"np"}, DenyPurge: true})
	np, _ := js.Stream(c, "NOPURGE")
	if err := np.Purge(c); err == nil {
		t.Fatal("deny_purge stream purged")
	}
}

func TestGetDeleteAndDirectGet(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "G", Subjects: []string{"g.>"}, AllowDirect: true})
	m := nats.NewMsg("g.a")
	m.Header.Set("X-Hdr", "yes")
	m.Data = []byte("one")
	js.PublishMsg(c, m)
	js.Publish(c, "g.b", []byte("two"))
	js.Publish(c, "g.a", []byte("three"))

	raw, err := st.GetMsg(c, 1)
	if err != nil || string(raw.Data) != "one" || raw.Header.Get("X-Hdr") != "yes" || raw.Subject != "g.a" {
		t.Fatalf("GetMsg(1) = %+v, %v", raw, err)
	}
	last, err := st.GetLastMsgForSubject(c, "g.a")
	if err != nil || last.Sequence != 3 {
		t.Fatalf("last for subject: %+v %v", last, err)
	}
	if last, err = st.GetLastMsgForSubject(c, "g.*"); err != nil || last.Sequence != 3 {
		t.Fatalf("last for wildcard: %+v %v", last, err)
	}
	if _, err := st.GetMsg(c, 99); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if err := st.DeleteMsg(c, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetMsg(c, 2); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("deleted msg: %v", err)
	}
	if err := st.DeleteMsg(c, 2); err == nil {
		t.Fatal("second delete succeeded")
	}
	info, _ := st.Info(c, jetstream.WithDeletedDetails(true), jetstream.WithSubjectFilter(">"))
	if info.State.NumDeleted != 1 || len(info.State.Deleted) != 1 || info.State.Deleted[0] != 2 || info.State.Subjects["g.a"] != 2 {
		t.Fatalf("state %+v", info.State)
	}

	// Direct get headers, exactly as the spec lists them.
	reply, err := nc.Request("$JS.API.DIRECT.GET.G.g.a", nil, testutil.MsgWait)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Nats-Stream": "G", "Nats-Subject": "g.a", "Nats-Sequence": "3"} {
		if reply.Header.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, reply.Header.Get(k), v)
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, reply.Header.Get("Nats-Time-Stamp")); err != nil || string(reply.Data) != "three" {
		t.Errorf("timestamp %q data %q", reply.Header.Get("Nats-Time-Stamp"), reply.Data)
	}
	reply, _ = nc.Request("$JS.API.DIRECT.GET.G", []byte(`{"seq":1}`), testutil.MsgWait)
	if reply.Header.Get("X-Hdr") != "yes" || reply.Header.Get("Nats-Sequence") != "1" {
		t.Errorf("direct get by seq keeps stored headers: %v", reply.Header)
	}
	for body, status := range map[string]string{`{"seq":99}`: "404", ``: "408", `{bad`: "408"} {
		reply, err := nc.Request("$JS.API.DIRECT.GET.G", []byte(body), testutil.MsgWait)
		if err != nil || reply.Header.Get("Status") != status {
			t.Errorf("body %q: status %q, err %v", body, reply.Header.Get("Status"), err)
		}
	}
	// Without allow_direct nobody answers.
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ND", Subjects: []string{"nd"}})
	if _, err := nc.Request("$JS.API.DIRECT.GET.ND", []byte(`{"seq":1}`), testutil.MsgWait); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("direct get without allow_direct: %v", err)
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "K", Subjects: []string{"k.*"}, MaxMsgsPerSubject: 2, AllowDirect: true})
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "MEM", Storage: jetstream.MemoryStorage})
	for i := 0; i < 50; i++ {
		js.Publish(c, fmt.Sprintf("k.%d", i%7), []byte(fmt.Sprint(i)), jetstream.WithMsgID(fmt.Sprint("id", i)))
	}
	st.DeleteMsg(c, 49)
	before, _ := st.Info(c, jetstream.WithSubjectFilter(">"))
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	st2, err := js2.Stream(c, "K")
	if err != nil {
		t.Fatal(err)
	}
	after := st2.CachedInfo()
	if after.State.Msgs != before.State.Msgs || after.State.Bytes != before.State.Bytes ||
		after.State.FirstSeq != before.State.FirstSeq || after.State.LastSeq != before.State.LastSeq ||
		!after.Created.Equal(before.Created) || after.State.NumSubjects != before.State.NumSubjects {
		t.Fatalf("state changed:\nbefore %+v\nafter  %+v", before.State, after.State)
	}
	// Dedup window survives too.
	ack, err := js2.Publish(c, "k.1", nil, jetstream.WithMsgID("id45"))
	if err != nil || !ack.Duplicate {
		t.Fatalf("dedup after restart: %+v %v", ack, err)
	}
	if _, err := js2.Stream(c, "MEM"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Logf("memory stream after restart: %v", err)
	}
}
