package jsapi_test

import (
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// A stream subject transform changes the subject before the message is
// stored, as the reference server does.
func TestSubjectTransformOnStore(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "TR", Subjects: []string{"in.>"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: "in.*.*", Destination: "tr.$2.$1"}})
	c := testutil.Ctx(t)
	for _, subj := range []string{"in.a.b", "in.c"} {
		if _, err := js.Publish(c, subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	for seq, want := range map[uint64]string{1: "tr.b.a", 2: "in.c"} {
		m, err := st.GetMsg(c, seq)
		if err != nil || m.Subject != want {
			t.Fatalf("seq %d: %v %v, want subject %s", seq, m, err, want)
		}
	}
	// Consumers filter on the stored subject.
	cons, err := st.CreateOrUpdateConsumer(c, jetstream.ConsumerConfig{FilterSubject: "tr.>", AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		t.Fatal(err)
	}
	if m := fetchOne(t, cons, time.Second); m.Subject() != "tr.b.a" {
		t.Fatalf("delivered %s", m.Subject())
	}

	_, err = js.CreateStream(c, jetstream.StreamConfig{Name: "B1", Subjects: []string{"b1.>"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: "b1.*", Destination: "x.$2"}})
	testutil.WantAPIError(t, err, 10156)
	_, err = js.CreateStream(c, jetstream.StreamConfig{Name: "B2", Subjects: []string{"b2.>"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: "b2..*", Destination: "x.$1"}})
	testutil.WantAPIError(t, err, 10155)
}
