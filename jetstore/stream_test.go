package jetstore

import (
	"errors"
	"fmt"
	"testing"
)

func TestPublishGetRestart(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	st := mustAdd(t, s, StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}})
	for i := 1; i <= 5; i++ {
		ack := publish(t, s, st, fmt.Sprintf("orders.%d", i%2), nil, []byte(fmt.Sprint("m", i)))
		if ack.Err != nil || ack.Seq != uint64(i) {
			t.Fatalf("ack %d: %+v", i, ack)
		}
	}
	check := func(st *Stream) {
		t.Helper()
		m, err := st.Get(3)
		if err != nil || string(m.Data) != "m3" || m.Subject != "orders.1" {
			t.Fatalf("Get(3) = %+v, %v", m, err)
		}
		last, err := st.LastBySubject("orders.0")
		if err != nil || last.Seq != 4 {
			t.Fatalf("LastBySubject = %+v, %v", last, err)
		}
		state := st.State("", false)
		if state.Msgs != 5 || state.FirstSeq != 1 || state.LastSeq != 5 || state.NumSubjects != 2 {
			t.Fatalf("state %+v", state)
		}
	}
	check(st)
	s = s.reopen(t)
	st, err := s.Stream("ORDERS")
	if err != nil {
		t.Fatal(err)
	}
	check(st)
	if ack := publish(t, s, st, "orders.9", nil, nil); ack.Seq != 6 {
		t.Fatalf("after restart ack %+v", ack)
	}
}

func TestDeletePurgeSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, func(o *Options) { o.BlockSize = 256 })
	st := mustAdd(t, s, StreamConfig{Name: "S", Subjects: []string{"s.*"}})
	for i := 1; i <= 40; i++ {
		publish(t, s, st, fmt.Sprintf("s.%d", i%4), nil, []byte("payload"))
	}
	if err := st.DeleteMsg(7); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(7); !errors.Is(err, ErrStoreEOF) {
		t.Fatalf("second delete: %v", err)
	}
	n, err := st.Purge(PurgeRequest{Filter: "s.1"})
	if err != nil || n != 10 {
		t.Fatalf("purge filter: %d %v", n, err)
	}
	n, err = st.Purge(PurgeRequest{Seq: 20})
	if err != nil || n != 13 { // 1..19 minus 7 and five s.1 messages
		t.Fatalf("purge seq: %d %v", n, err)
	}
	before := st.State("", false)
	s = s.reopen(t)
	st, _ = s.Stream("S")
	after := st.State("", false)
	if before.Msgs != after.Msgs || before.FirstSeq != after.FirstSeq || before.LastSeq != after.LastSeq || before.Bytes != after.Bytes {
		t.Fatalf("state changed across restart:\n%+v\n%+v", before, after)
	}
	n, _ = st.Purge(PurgeRequest{})
	if n != after.Msgs {
		t.Fatalf("purge all removed %d of %d", n, after.Msgs)
	}
	s = s.reopen(t)
	st, _ = s.Stream("S")
	state := st.State("", false)
	if state.Msgs != 0 || state.LastSeq != 40 || state.FirstSeq != 41 {
		t.Fatalf("after purge+restart %+v", state)
	}
}

// A stream may capture the store's reserved subjects only without acks.
func TestReservedSubjectsNeedNoAck(t *testing.T) {
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.ReservedSubjects = []string{"api.>"} })
	if _, _, err := s.AddStream(StreamConfig{Name: "A", Subjects: []string{"x", "api.*.info"}}); !errors.Is(err, ErrReservedSubject) {
		t.Fatalf("capturing a reserved subject with acks: %v", err)
	}
	var cfgErr *StreamConfigError
	if _, _, err := s.AddStream(StreamConfig{Name: "A", Subjects: []string{"a..b", "api.x"}}); !errors.As(err, &cfgErr) {
		t.Fatalf("an invalid subject listed first is reported first: %v", err)
	}
	if _, _, err := s.AddStream(StreamConfig{Name: "A", Subjects: []string{"api.>"}, NoAck: true}); err != nil {
		t.Fatalf("with no_ack: %v", err)
	}
}
