package jetstore

import (
	"bytes"
	"errors"
	"testing"
)

// The publisher's expectations are checked in a fixed order, and each
// refusal is a value saying what did not hold.
func TestPublishOptionsChecks(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	st := mustAdd(t, s, StreamConfig{Name: "P", Subjects: []string{"p.>"}})
	if r := publishWith(t, s, st, "p.a", nil, nil, &PublishOptions{MsgID: "one"}); r.Err != nil || r.Seq != 1 {
		t.Fatalf("first: %+v", r)
	}
	publish(t, s, st, "p.b", nil, nil) // seq 2
	set := func(seq uint64) SeqExpectation { return SeqExpectation{Set: true, Seq: seq} }
	malformed := SeqExpectation{Set: true, Malformed: true}
	for _, tc := range []struct {
		name    string
		subject string
		o       PublishOptions
		check   func(PublishResult) bool
	}{
		{"expected stream", "p.a", PublishOptions{HasExpectedStream: true, ExpectedStream: "Q", ExpectedLastSeq: malformed},
			func(r PublishResult) bool { return errors.Is(r.Err, ErrExpectedStream) }},
		{"empty expected stream is an expectation", "p.a", PublishOptions{HasExpectedStream: true},
			func(r PublishResult) bool { return errors.Is(r.Err, ErrExpectedStream) }},
		{"ttl before sequences", "p.a", PublishOptions{HasTTL: true, ExpectedLastSeq: malformed},
			func(r PublishResult) bool { return errors.Is(r.Err, ErrMsgTTLDisabled) }},
		{"subject sequence before stream sequence", "p.a", PublishOptions{ExpectedLastSubjectSeq: set(9), ExpectedLastSeq: malformed},
			func(r PublishResult) bool {
				var e *WrongLastSeqError
				return errors.As(r.Err, &e) && e.Last == 1
			}},
		{"subject sequence of another subject", "p.a", PublishOptions{ExpectedLastSubjectSeq: set(1), ExpectedLastSubjectSeqSubject: "p.b"},
			func(r PublishResult) bool {
				var e *WrongLastSeqError
				return errors.As(r.Err, &e) && e.Last == 2
			}},
		{"malformed stream sequence", "p.a", PublishOptions{ExpectedLastSeq: malformed},
			func(r PublishResult) bool { return errors.Is(r.Err, ErrMalformedExpectation) }},
		{"wrong stream sequence", "p.a", PublishOptions{ExpectedLastSeq: set(1)},
			func(r PublishResult) bool {
				var e *WrongLastSeqError
				return errors.As(r.Err, &e) && e.Last == 2
			}},
		{"duplicate before last msg id", "p.x", PublishOptions{MsgID: "one", HasExpectedLastMsgID: true, ExpectedLastMsgID: "zz"},
			func(r PublishResult) bool { return r.Err == nil && r.Duplicate && r.Seq == 1 }},
		{"wrong last msg id", "p.a", PublishOptions{HasExpectedLastMsgID: true, ExpectedLastMsgID: "zz"},
			func(r PublishResult) bool {
				var e *WrongLastMsgIDError
				return errors.As(r.Err, &e) && e.Last == "one"
			}},
		{"rollup not allowed, even an invalid one", "p.a", PublishOptions{Rollup: RollupInvalid, RollupValue: "x"},
			func(r PublishResult) bool { return errors.Is(r.Err, ErrRollupNotPermitted) }},
		{"all expectations hold", "p.a", PublishOptions{HasExpectedStream: true, ExpectedStream: "P", ExpectedLastSeq: set(2),
			ExpectedLastSubjectSeq: set(1), HasExpectedLastMsgID: true, ExpectedLastMsgID: "one", MsgID: "two"},
			func(r PublishResult) bool { return r.Err == nil && r.Seq == 3 }},
	} {
		o := tc.o
		if r := publishWith(t, s, st, tc.subject, nil, nil, &o); !tc.check(r) {
			t.Errorf("%s: %+v", tc.name, r)
		}
	}
	ru := mustAdd(t, s, StreamConfig{Name: "RU", Subjects: []string{"ru.>"}, AllowRollup: true})
	r := publishWith(t, s, ru, "ru.a", nil, nil, &PublishOptions{Rollup: RollupInvalid, RollupValue: "x"})
	if e := (*InvalidRollupError)(nil); !errors.As(r.Err, &e) || e.Value != "x" {
		t.Fatalf("invalid rollup: %+v", r)
	}
}

// testMsgID is a header format of this test's own: the store leaves
// reading ids out of stored headers to the protocol that wrote them.
func testMsgID(hdr []byte) []byte {
	if id, ok := bytes.CutPrefix(hdr, []byte("id=")); ok {
		return id
	}
	return nil
}

// The duplicate window and the last message id survive a restart through
// the injected MessageID reader, with and without the index file.
func TestDedupWindowSurvivesRestart(t *testing.T) {
	for _, crash := range []bool{false, true} {
		dir := t.TempDir()
		s := openTestStore(t, dir, func(o *Options) { o.MessageID = testMsgID })
		st := mustAdd(t, s, StreamConfig{Name: "D", Subjects: []string{"d"}})
		for _, id := range []string{"a", "b"} {
			publishWith(t, s, st, "d", []byte("id="+id), nil, &PublishOptions{MsgID: id})
		}
		s = s.reopen(t)
		if crash {
			// As if the process died: no index file, recovery from the blocks.
			s.Close()
			if err := removeIndexFiles(dir); err != nil {
				t.Fatal(err)
			}
			s = openWithSink(t, dir, s.acks, func(o *Options) { o.MessageID = testMsgID })
		}
		st, _ = s.Stream("D")
		if r := publishWith(t, s, st, "d", nil, nil, &PublishOptions{MsgID: "a"}); !r.Duplicate || r.Seq != 1 {
			t.Fatalf("crash=%v: duplicate after restart: %+v", crash, r)
		}
		r := publishWith(t, s, st, "d", nil, nil, &PublishOptions{HasExpectedLastMsgID: true, ExpectedLastMsgID: "b"})
		if r.Err != nil || r.Seq != 3 {
			t.Fatalf("crash=%v: last msg id after restart: %+v", crash, r)
		}
	}
}
