package jetstore

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestWriteAndSyncFailuresPoisonThenRecover(t *testing.T) {
	for _, tc := range []struct {
		name        string
		write, sync error
	}{
		{"disk full", errDiskFull, nil},
		{"fsync error", nil, errIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := &faultFS{}
			clock := &fakeClock{now: time.Now()}
			dir := t.TempDir()
			s := openTestStore(t, dir, func(o *Options) { o.FS, o.Now = ffs, clock.Now })
			st := mustAdd(t, s, StreamConfig{Name: "F", Subjects: []string{"f"}})
			for i := 1; i <= 10; i++ {
				if ack := publish(t, s, st, "f", nil, []byte(fmt.Sprint("ok", i))); ack.Err != nil {
					t.Fatalf("publish %d: %v", i, ack.Err)
				}
			}

			ffs.set(tc.write, tc.sync)
			if ack := publish(t, s, st, "f", nil, []byte("lost")); ack.Err == nil {
				t.Fatalf("publish during failure acked: %+v", ack)
			}
			// Poisoned: refused without touching the disk, even once it heals,
			// until the retry interval passed.
			ffs.set(nil, nil)
			if ack := publish(t, s, st, "f", nil, nil); !errors.Is(ack.Err, ErrStreamUnavailable) {
				t.Fatalf("publish while poisoned: %+v", ack)
			}
			clock.advance(2 * retryAfterFailure)
			ack := publish(t, s, st, "f", nil, []byte("after"))
			if ack.Err != nil || ack.Seq != 11 {
				t.Fatalf("publish after recovery: %+v", ack)
			}
			verify := func(st *Stream) {
				t.Helper()
				for i := 1; i <= 10; i++ {
					m, err := st.Get(uint64(i))
					if err != nil || string(m.Data) != fmt.Sprint("ok", i) {
						t.Fatalf("acked message %d: %+v %v", i, m, err)
					}
				}
				if m, err := st.Get(11); err != nil || string(m.Data) != "after" {
					t.Fatalf("message 11: %+v %v", m, err)
				}
				if state := st.State("", false); state.Msgs != 11 || state.LastSeq != 11 {
					t.Fatalf("state %+v", state)
				}
			}
			verify(st)
			s = s.reopen(t)
			st, _ = s.Stream("F")
			verify(st)
		})
	}
}

func TestPurgeReportsStorageFailure(t *testing.T) {
	ffs := &faultFS{}
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.FS = ffs })
	st := mustAdd(t, s, StreamConfig{Name: "P", Subjects: []string{"p"}})
	publish(t, s, st, "p", nil, nil)
	ffs.set(nil, errIO)
	if _, err := st.Purge(PurgeRequest{}); err == nil {
		t.Fatal("purge succeeded on a failing disk")
	}
	if err := st.DeleteMsg(1); err == nil {
		t.Fatal("delete succeeded on a poisoned stream")
	}
}

// TestFailedPublishIsNotCounted: a publish whose write or fsync failed is
// not in the stream's state, before or after the stream recovers (before
// the fix last_seq and messages counted it until the reload).
func TestFailedPublishIsNotCounted(t *testing.T) {
	for _, tc := range []struct {
		name        string
		write, sync error
	}{
		{"disk full", errDiskFull, nil},
		{"fsync error", nil, errIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ffs := &faultFS{}
			clock := &fakeClock{now: time.Now()}
			s := openTestStore(t, t.TempDir(), func(o *Options) { o.FS, o.Now = ffs, clock.Now })
			st := mustAdd(t, s, StreamConfig{Name: "F", Subjects: []string{"f"}})
			for i := 0; i < 10; i++ {
				publish(t, s, st, "f", nil, []byte("ok"))
			}
			before := st.State("", false)
			ffs.set(tc.write, tc.sync)
			if ack := publish(t, s, st, "f", nil, []byte("lost")); ack.Err == nil {
				t.Fatalf("publish on a failing disk acked: %+v", ack)
			}
			if after := st.State("", false); after.Msgs != before.Msgs || after.LastSeq != before.LastSeq || after.Bytes != before.Bytes {
				t.Fatalf("state counts the failed publish:\nbefore %+v\nafter  %+v", before, after)
			}
			if mem, file := s.Usage(); mem != 0 || file != before.Bytes {
				t.Fatalf("usage counts the failed publish: %d bytes, want %d", file, before.Bytes)
			}
			ffs.set(nil, nil)
			clock.advance(2 * retryAfterFailure)
			if ack := publish(t, s, st, "f", nil, []byte("after")); ack.Err != nil || ack.Seq != 11 {
				t.Fatalf("publish after recovery: %+v", ack)
			}
			if after := st.State("", false); after.Msgs != 11 || after.LastSeq != 11 {
				t.Fatalf("after recovery %+v", after)
			}
		})
	}
}
