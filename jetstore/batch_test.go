package jetstore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// publishBatch queues an atomic batch and waits for every outcome.
func publishBatch(t *testing.T, st *Stream, msgs ...*InMsg) []PublishResult {
	t.Helper()
	results := make([]PublishResult, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		m.Done = func(r PublishResult) { results[i] = r; wg.Done() }
	}
	if err := st.PublishBatch(msgs); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	return results
}

func batchMsg(subject string, o *PublishOptions) *InMsg {
	m := NewInMsg([]byte(subject), nil, nil, []byte("x"))
	m.Options = o
	return m
}

func TestAtomicBatchAllOrNothing(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	st := mustAdd(t, s, StreamConfig{Name: "B", Subjects: []string{"b.>"}, AllowAtomicPublish: true})
	publish(t, s, st, "b.a", nil, []byte("before"))

	// The third message expects what the first two make of the stream:
	// checked against the batch's own effect, it passes.
	ok := publishBatch(t, st, batchMsg("b.a", nil), batchMsg("b.b", nil),
		batchMsg("b.a", &PublishOptions{ExpectedLastSeq: SeqExpectation{Set: true, Seq: 3},
			ExpectedLastSubjectSeq: SeqExpectation{Set: true, Seq: 2}}))
	for i, r := range ok {
		if r.Err != nil || r.Seq != uint64(i+2) {
			t.Fatalf("message %d: %+v", i, r)
		}
	}
	if ok[2].BatchSize != 3 {
		t.Fatalf("last result %+v", ok[2])
	}

	// One refusal refuses the whole batch, and nothing of it is stored.
	bad := publishBatch(t, st, batchMsg("b.c", nil), batchMsg("b.c", &PublishOptions{ExpectedLastSeq: SeqExpectation{Set: true, Seq: 1}}))
	var wrong *WrongLastSeqError
	for _, r := range bad {
		if !errors.As(r.Err, &wrong) || wrong.Last != 5 {
			t.Fatalf("refused batch: %+v", bad)
		}
	}
	dup := publishBatch(t, st, batchMsg("b.d", &PublishOptions{MsgID: "x"}), batchMsg("b.d", &PublishOptions{MsgID: "x"}))
	if !errors.Is(dup[0].Err, ErrBatchDuplicateMsgID) {
		t.Fatalf("duplicate ids: %+v", dup)
	}
	var unsupported *BatchUnsupportedError
	if r := publishBatch(t, st, batchMsg("b.d", &PublishOptions{HasExpectedLastMsgID: true})); !errors.As(r[0].Err, &unsupported) {
		t.Fatalf("expected last msg id: %+v", r)
	}
	if state := st.State("", false); state.Msgs != 4 || state.LastSeq != 4 {
		t.Fatalf("state after refusals %+v", state)
	}
}

// blockPath is the file of a stream's only block.
func onlyBlock(t *testing.T, dir, stream string) string {
	t.Helper()
	blocks, _ := filepath.Glob(filepath.Join(dir, "streams", stream, "blocks", "*.blk"))
	if len(blocks) != 1 {
		t.Fatalf("blocks %v", blocks)
	}
	return blocks[0]
}

// A batch whose records a crash tore, at the end or in the middle, is
// dropped whole on recovery; what came before stays.
func TestTornAtomicBatchIsDroppedWhole(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string, start, end int64)
	}{
		{"cut in the middle", func(t *testing.T, path string, start, end int64) {
			if err := os.Truncate(path, start+(end-start)/2); err != nil {
				t.Fatal(err)
			}
		}},
		{"one record damaged", func(t *testing.T, path string, start, end int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// A byte inside the batch's second message record.
			rec := int64(msgRecordLen("b.a", nil, []byte("x")))
			if _, err := f.WriteAt([]byte{0xff}, start+batchRecordLen+rec+rec/2); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTestStore(t, dir)
			st := mustAdd(t, s, StreamConfig{Name: "B", Subjects: []string{"b.>"}, AllowAtomicPublish: true})
			publish(t, s, st, "b.a", nil, []byte("x"))
			path := onlyBlock(t, dir, "B")
			before, _ := os.Stat(path)
			publishBatch(t, st, batchMsg("b.a", nil), batchMsg("b.a", nil), batchMsg("b.a", nil))
			after, _ := os.Stat(path)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			removeIndexFiles(dir)
			tc.damage(t, path, before.Size(), after.Size())

			s2 := openTestStore(t, dir)
			st2, _ := s2.Stream("B")
			if state := st2.State("", false); state.Msgs != 1 || state.FirstSeq != 1 {
				t.Fatalf("after recovery %+v", state)
			}
			r := publish(t, s2, st2, "b.a", nil, []byte("y"))
			if r.Err != nil || r.Seq != 5 {
				t.Fatalf("publish after recovery: %+v (the batch's sequences are never reused)", r)
			}
			// A second recovery keeps that message: it is not taken for
			// part of the dropped batch.
			if err := s2.Close(); err != nil {
				t.Fatal(err)
			}
			removeIndexFiles(dir)
			s3 := openTestStore(t, dir)
			st3, _ := s3.Stream("B")
			if m, err := st3.Get(5); err != nil || string(m.Data) != "y" {
				t.Fatalf("acknowledged message after a second recovery: %v %v", m, err)
			}
		})
	}
}
