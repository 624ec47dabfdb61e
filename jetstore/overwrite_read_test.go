package jetstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A key-value bucket keeps one message per key. A reader of a key's last
// message while the key is overwritten must get the old message or the
// new one, never "not found": the overwrite deletes the old message as it
// stores the new one, so the new one must be visible to readers by then.
// Replicated applies (whose messages a majority already holds) and
// single-server publishes alike.
func TestLastBySubjectNeverMissesAnOverwrittenKey(t *testing.T) {
	for _, replicated := range []bool{true, false} {
		t.Run(fmt.Sprintf("replicated=%v", replicated), func(t *testing.T) {
			s := openTestStore(t, t.TempDir())
			st := mustAdd(t, s, StreamConfig{Name: "KV", Subjects: []string{"k.>"}, MaxMsgsPerSubject: 1})
			write := func(seq uint64) {
				data := []byte(fmt.Sprint(seq))
				if replicated {
					msgs := []ReplicatedMsg{{Seq: seq, Subject: "k.a", Data: data, Time: time.Now().UnixNano()}}
					if _, err := st.ApplyReplicated(msgs, false); err != nil {
						t.Error(err)
					}
					return
				}
				if ack := publish(t, s, st, "k.a", nil, data); ack.Err != nil {
					t.Error(ack.Err)
				}
			}
			write(1)
			const writes = 3000
			var done atomic.Bool
			var misses atomic.Int64
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !done.Load() {
					if _, err := st.LastBySubject("k.a"); errors.Is(err, ErrNoMessageFound) {
						misses.Add(1)
					}
				}
			}()
			for seq := uint64(2); seq <= writes; seq++ {
				write(seq)
			}
			done.Store(true)
			wg.Wait()
			if n := misses.Load(); n > 0 {
				t.Fatalf("%d reads of an existing key found nothing while it was overwritten %d times", n, writes)
			}
		})
	}
}
