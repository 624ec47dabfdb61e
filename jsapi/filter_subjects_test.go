package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// Filter subjects are refused as the reference server refuses them: one
// filter a subset of another (10138), an empty one (10139), both
// filter_subject and filter_subjects (10136), an invalid subject (10052).
// Filters that only intersect, and filters outside the stream's subjects,
// are accepted.
func TestFilterSubjectsValidation(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FV", Subjects: []string{"a.>", "b.*"}})
	refused := []struct {
		filters []string
		single  string
		code    jetstream.ErrorCode
	}{
		{[]string{"a.*", "a.b"}, "", 10138},
		{[]string{"a.b", "a.>"}, "", 10138},
		{[]string{"b.1", "b.1"}, "", 10138},
		{[]string{"a.b", ""}, "", 10139},
		{[]string{"a.c"}, "a.b", 10136},
		{[]string{"a..b"}, "", 10052},
	}
	for _, r := range refused {
		_, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "R", FilterSubjects: r.filters, FilterSubject: r.single})
		testutil.WantAPIError(t, err, r.code)
	}
	for _, ok := range [][]string{{"*.x", "a.*"}, {"a.>", "b.*"}, {"c.d", "c.e"}} {
		if _, err := st.CreateOrUpdateConsumer(c, jetstream.ConsumerConfig{Durable: "OK", FilterSubjects: ok}); err != nil {
			t.Fatalf("filters %v: %v", ok, err)
		}
	}
	if names := consumerNames(t, st); len(names) != 1 {
		t.Fatalf("refused consumers were created: %v", names)
	}
}

// A message matching two intersecting filters is delivered once, and
// pending counts it once.
func TestIntersectingFiltersDeliverOnce(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FI", Subjects: []string{"a.*", "b.*"}})
	for _, subj := range []string{"a.x", "b.x", "a.y", "b.y"} {
		if _, err := js.Publish(c, subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := st.CreateConsumer(c, jetstream.ConsumerConfig{Durable: "I", AckPolicy: jetstream.AckExplicitPolicy,
		FilterSubjects: []string{"*.x", "a.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := cons.CachedInfo().NumPending; p != 3 {
		t.Fatalf("pending %d, want 3", p)
	}
	var got []string
	for range 3 {
		m := fetchOne(t, cons, time.Second)
		got = append(got, m.Subject())
		m.Ack()
	}
	if want := []string{"a.x", "b.x", "a.y"}; !equalStrings(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	if b, _ := cons.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond)); b != nil {
		for m := range b.Messages() {
			t.Fatalf("extra delivery %s", m.Subject())
		}
	}
}

// On a work-queue stream no two consumers may share a subject, through
// filter_subjects too, and an update that would make them share one is
// refused (10100) and leaves the consumer as it was.
func TestWorkQueueFilterSubjectsUnique(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "WQF", Subjects: []string{"wq.>"}, Retention: jetstream.WorkQueuePolicy})
	wq := func(name string, filters ...string) jetstream.ConsumerConfig {
		return jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: filters}
	}
	if _, err := st.CreateConsumer(c, wq("W1", "wq.*.x", "wq.b")); err != nil {
		t.Fatal(err)
	}
	_, err := st.CreateConsumer(c, wq("W2", "wq.c", "wq.a.*"))
	testutil.WantAPIError(t, err, 10100)
	if _, err := st.CreateConsumer(c, wq("W3", "wq.c", "wq.d")); err != nil {
		t.Fatal(err)
	}
	_, err = st.UpdateConsumer(c, wq("W3", "wq.c", "wq.b"))
	testutil.WantAPIError(t, err, 10100)
	if _, err := st.UpdateConsumer(c, wq("W3", "wq.c", "wq.e")); err != nil {
		t.Fatalf("an update keeping subjects apart: %v", err)
	}
	info, err := st.Consumer(c, "W3")
	if err != nil {
		t.Fatal(err)
	}
	if f := info.CachedInfo().Config.FilterSubjects; !equalStrings(f, []string{"wq.c", "wq.e"}) {
		t.Fatalf("filters %v", f)
	}
}

// Changing a durable consumer's filter subjects re-counts what is pending
// and delivers the new subjects from its position on; the new filters
// survive a restart.
func TestFilterSubjectsUpdateAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FU", Subjects: []string{"fu.*"}})
	for _, subj := range []string{"fu.a", "fu.b", "fu.c", "fu.a", "fu.b", "fu.c"} {
		if _, err := js.Publish(c, subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := jetstream.ConsumerConfig{Durable: "U", AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: []string{"fu.a"}}
	cons, err := st.CreateConsumer(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := fetchOne(t, cons, time.Second)
	m.DoubleAck(c)
	cfg.FilterSubjects = []string{"fu.b", "fu.c"}
	cons, err = st.UpdateConsumer(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p := cons.CachedInfo().NumPending; p != 4 {
		t.Fatalf("pending after update %d, want 4 (seqs 2,3,5,6)", p)
	}
	if md := meta(t, fetchOne(t, cons, time.Second)); md.Sequence.Stream != 2 {
		t.Fatalf("first after update: seq %d", md.Sequence.Stream)
	}
	s.Shutdown()

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	cons2, err := js2.Consumer(testutil.Ctx(t), "FU", "U")
	if err != nil {
		t.Fatal(err)
	}
	if f := cons2.CachedInfo().Config.FilterSubjects; !equalStrings(f, []string{"fu.b", "fu.c"}) {
		t.Fatalf("filters after restart %v", f)
	}
}

// An ordered consumer (nats.go's client-side recreated consumer) with
// several filter subjects reads exactly those subjects in stream order.
func TestOrderedConsumerFilterSubjects(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "FO", Subjects: []string{"fo.*"}})
	for _, subj := range []string{"fo.a", "fo.x", "fo.b", "fo.y", "fo.a"} {
		if _, err := js.Publish(c, subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := st.OrderedConsumer(c, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"fo.a", "fo.b"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 {
		got = append(got, fetchOne(t, cons, time.Second).Subject())
	}
	if want := []string{"fo.a", "fo.b", "fo.a"}; !equalStrings(got, want) {
		t.Fatalf("ordered consumer read %v, want %v", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func consumerNames(t *testing.T, st jetstream.Stream) []string {
	t.Helper()
	var names []string
	l := st.ConsumerNames(testutil.Ctx(t))
	for n := range l.Name() {
		names = append(names, n)
	}
	if err := l.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
