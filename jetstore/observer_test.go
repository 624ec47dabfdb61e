package jetstore

import (
	"sync"
	"testing"
	"time"
)

// commitLog records CommitObserver calls.
type commitLog struct {
	mu      sync.Mutex
	batches []int
	syncs   []time.Duration
}

func (l *commitLog) Commit(batch int, write, sync time.Duration) {
	l.mu.Lock()
	l.batches = append(l.batches, batch)
	l.syncs = append(l.syncs, sync)
	l.mu.Unlock()
}

func (l *commitLog) snapshot() ([]int, []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]int(nil), l.batches...), append([]time.Duration(nil), l.syncs...)
}

func TestCommitObserverSeesEveryBatch(t *testing.T) {
	for _, tc := range []struct {
		name     string
		storage  string
		interval time.Duration
		synced   bool
	}{
		{"file always", StorageFile, 0, true},
		{"file interval", StorageFile, time.Hour, false},
		{"memory", StorageMemory, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &commitLog{}
			s := openTestStore(t, t.TempDir(), func(o *Options) {
				o.Observer = obs
				o.SyncInterval = tc.interval
			})
			st := mustAdd(t, s, StreamConfig{Name: "OBS", Subjects: []string{"obs.>"}, Storage: tc.storage})
			const n = 25
			for i := 0; i < n; i++ {
				publish(t, s, st, "obs.x", nil, []byte("payload"))
			}
			batches, syncs := obs.snapshot()
			total := 0
			for i, b := range batches {
				total += b
				if b <= 0 {
					t.Errorf("batch %d has size %d", i, b)
				}
				if (syncs[i] > 0) != tc.synced {
					t.Errorf("batch %d: sync time %v, want synced=%v", i, syncs[i], tc.synced)
				}
			}
			if total != n {
				t.Fatalf("observed %d messages in %d batches, published %d", total, len(batches), n)
			}
		})
	}
}
