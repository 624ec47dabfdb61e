package jetstore

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

// Ephemeral consumers of file streams keep their state on disk from the
// start; memory-storage consumers write nothing while they run, are saved
// by a clean stop, come back with their state, and their saved copy is
// removed at once so that a later crash cannot bring back a stale one.
func TestConsumersAcrossRestart(t *testing.T) {
	e := newEngine(t, StreamConfig{Name: "S", Subjects: []string{"s"}})
	s, st := e.s, e.st
	e.publish("s", "s", "s", "s")
	add := func(cfg ConsumerConfig) *Consumer {
		t.Helper()
		c := e.consumer(cfg)
		c.Pull(PullRequest{Reply: []byte("r"), Batch: 2})
		e.settle(c)
		return c
	}
	mem := add(ConsumerConfig{Name: "MEM", MemoryStorage: true, AckPolicy: AckExplicit})
	eph := add(ConsumerConfig{Name: "EPH", AckPolicy: AckExplicit})
	want := map[string]ConsumerInfo{"MEM": mem.Info(), "EPH": eph.Info()}
	if want["MEM"].Delivered.Stream != 2 || want["MEM"].NumAckPending != 2 {
		t.Fatalf("before the restart: %+v", want["MEM"])
	}
	exists := func(name string) bool {
		dir, _ := st.storage.consumerDir(name)
		_, err := os.Stat(dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	if exists("MEM") || !exists("EPH") {
		t.Fatalf("while running: memory consumer on disk %v, ephemeral on disk %v", exists("MEM"), exists("EPH"))
	}

	s = s.reopen(t)
	st, _ = s.Stream("S")
	for name, before := range want {
		c, err := st.Consumer(name)
		if err != nil {
			t.Fatalf("%s after the restart: %v", name, err)
		}
		after := c.Info()
		if after.Delivered != before.Delivered || after.AckFloor != before.AckFloor ||
			after.NumAckPending != before.NumAckPending || after.NumPending != before.NumPending ||
			after.Config.Name != name || after.Config.Durable != "" {
			t.Errorf("%s changed over the restart:\nbefore %+v\nafter  %+v", name, before, after)
		}
	}
	if exists("MEM") {
		t.Error("the memory consumer's saved state is still on disk after loading it")
	}
}
