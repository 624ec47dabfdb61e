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

// Sources, as the reference server behaves (compared scenario by scenario
// with nats-server 2.15.2).

// sourcedBySubject reads a stream and groups its messages' data by subject,
// with the Nats-Stream-Source header's fields before the origin identity.
func sourcedBySubject(t *testing.T, st jetstream.Stream) map[string][]string {
	t.Helper()
	c := testutil.Ctx(t)
	info, _ := st.Info(c)
	out := map[string][]string{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := st.GetMsg(c, seq)
		if err != nil {
			continue
		}
		src := strings.Fields(m.Header.Get("Nats-Stream-Source"))
		if len(src) > 5 {
			src = src[:5]
		}
		out[m.Subject] = append(out[m.Subject], string(m.Data)+"|"+strings.Join(src, " "))
	}
	return out
}

func TestSourcesFilterTransformAndOrder(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORIG", Subjects: []string{"o.>"}})
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "ORIG2", Subjects: []string{"p.>"}})
	for i := 1; i <= 6; i++ {
		js.Publish(c, map[bool]string{true: "o.a", false: "o.b"}[i%2 == 1], []byte(fmt.Sprint(i)))
	}
	js.Publish(c, "p.x", []byte("p1"))
	js.Publish(c, "p.y", []byte("p2"))
	agg := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "AGG", Subjects: []string{"agg"}, Sources: []*jetstream.StreamSource{
		{Name: "ORIG", FilterSubject: "o.a"},
		{Name: "ORIG2", SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "p.*", Destination: "q.$1"}}},
	}})
	js.Publish(c, "agg", []byte("own"))
	waitForMsg(t, agg, 6)
	got := sourcedBySubject(t, agg)
	want := map[string][]string{
		"o.a": {"1|ORIG 1 o.a > o.a", "3|ORIG 3 o.a > o.a", "5|ORIG 5 o.a > o.a"},
		"q.x": {"p1|ORIG2 1 p.* q.$1 p.x"},
		"q.y": {"p2|ORIG2 2 p.* q.$1 p.y"},
		"agg": {"own|"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sourced messages\n got %v\nwant %v", got, want)
	}
	info, _ := agg.Info(c)
	if len(info.Sources) != 2 || info.Config.Subjects[0] != "agg" {
		t.Fatalf("sources info %+v", info.Sources)
	}
	// Live writes follow, in order.
	for i := 7; i <= 20; i++ {
		js.Publish(c, "o.a", []byte(fmt.Sprint(i)))
	}
	waitForMsg(t, agg, 20)
	a := sourcedBySubject(t, agg)["o.a"]
	for i, v := range a {
		if !strings.HasPrefix(v, fmt.Sprint(map[bool]int{true: 2*i + 1, false: i + 4}[i < 3], "|")) {
			t.Fatalf("out of order at %d: %v", i, a)
		}
	}

	_, err := js.CreateStream(c, jetstream.StreamConfig{Name: "BAD", Sources: []*jetstream.StreamSource{{Name: "ORIG"}, {Name: "ORIG"}}})
	testutil.WantAPIError(t, err, 10140)
	_, err = js.CreateStream(c, jetstream.StreamConfig{Name: "BAD", Sources: []*jetstream.StreamSource{{Name: "ORIG", FilterSubject: "o.a",
		SubjectTransforms: []jetstream.SubjectTransformConfig{{Source: "o.*", Destination: "x.$1"}}}}})
	testutil.WantAPIError(t, err, 10144)
	// Only copies may carry the source header.
	m := nats.NewMsg("agg")
	m.Header.Set("Nats-Stream-Source", "ORIG 1 > > o.a")
	r, err := nc.RequestMsg(m, testutil.MsgWait)
	if err != nil || ackError(t, r.Data) != apiErrorJSON(400, 10227, "message stream source header is not allowed") {
		t.Fatalf("forged source header: %s %v", r.Data, err)
	}
}

// A source keeps deduplicating on the origin's message ids, and resumes
// after a restart exactly where it stopped, even when the messages that
// recorded how far it got were removed by the stream's limits.
func TestSourceResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "A", Subjects: []string{"a"}})
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "B", Subjects: []string{"b"}})
	publishN(t, js, "a", 5)
	agg := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "AGG", MaxMsgs: 3,
		Sources: []*jetstream.StreamSource{{Name: "A"}, {Name: "B"}}})
	waitForMsg(t, agg, 5)
	publishN(t, js, "b", 5) // pushes every copy of A out of AGG
	waitForMsg(t, agg, 10)
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	c2 := testutil.Ctx(t)
	agg2, _ := js2.Stream(c2, "AGG")
	js2.Publish(c2, "a", []byte("after"))
	m := waitForMsg(t, agg2, 11)
	if string(m.Data) != "after" || !strings.HasPrefix(m.Header.Get("Nats-Stream-Source"), "A 6 ") {
		t.Fatalf("first copy after restart: %q %v", m.Data, m.Header)
	}
	info, _ := agg2.Info(c2)
	if info.State.LastSeq != 11 {
		t.Fatalf("copied again: %+v", info.State)
	}
}
