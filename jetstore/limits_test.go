package jetstore

import (
	"errors"
	"testing"
)

func TestAccountLimits(t *testing.T) {
	lim := Limits{MaxFile: 2000, MaxMemory: 1000, MaxStreams: 3, MaxConsumers: 1, MaxAckPending: 10}
	s := openTestStore(t, t.TempDir(), func(o *Options) { o.Limits = lim })
	add := func(cfg StreamConfig) error {
		_, _, err := s.AddStream(cfg)
		return err
	}
	if err := add(StreamConfig{Name: "R", Subjects: []string{"r"}, MaxBytes: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := add(StreamConfig{Name: "BIG", Subjects: []string{"big"}, MaxBytes: 1500}); !errors.Is(err, ErrInsufficientStorage) {
		t.Fatalf("reservation past the limit: %v", err)
	}
	if err := add(StreamConfig{Name: "M", Subjects: []string{"m"}, Storage: StorageMemory, MaxBytes: 2000}); !errors.Is(err, ErrInsufficientMemory) {
		t.Fatalf("memory reservation past the limit: %v", err)
	}
	st := mustAdd(t, s, StreamConfig{Name: "U", Subjects: []string{"u"}})
	if _, file := s.Reserved(); file != 1000 {
		t.Fatalf("reserved %d, want 1000", file)
	}
	// Publishes fill the account up to its limit, never past it.
	payload := make([]byte, 400)
	var stored int
	for i := 0; i < 10; i++ {
		ack := publish(t, s, st, "u", nil, payload)
		if ack.Err != nil {
			if !errors.Is(ack.Err, ErrAccountResources) {
				t.Fatalf("publish %d: %v", i, ack.Err)
			}
			break
		}
		stored++
	}
	if stored != 4 { // 4 × 431 bytes fit in 2000
		t.Fatalf("%d messages stored", stored)
	}
	if err := add(StreamConfig{Name: "X", Subjects: []string{"x"}}); err != nil {
		t.Fatalf("third stream: %v", err)
	}
	if err := add(StreamConfig{Name: "Y", Subjects: []string{"y"}}); !errors.Is(err, ErrMaxStreams) {
		t.Fatalf("fourth stream: %v", err)
	}
	if _, _, err := st.AddConsumer(ConsumerConfig{Durable: "A", AckPolicy: AckExplicit, MaxAckPending: 20}, ActionCreate); err == nil {
		t.Fatal("max_ack_pending above the account's accepted")
	}
	if _, _, err := st.AddConsumer(ConsumerConfig{Durable: "A", AckPolicy: AckExplicit}, ActionCreate); err == nil {
		// the default max_ack_pending (1000) is above it too
		t.Fatal("default max_ack_pending above the account's accepted")
	}
	mustConsumer := func(name string) error {
		_, _, err := st.AddConsumer(ConsumerConfig{Durable: name, AckPolicy: AckExplicit, MaxAckPending: 5}, ActionCreate)
		return err
	}
	if err := mustConsumer("A"); err != nil {
		t.Fatal(err)
	}
	if err := mustConsumer("B"); !errors.Is(err, ErrMaxConsumers) {
		t.Fatalf("second consumer of a stream: %v", err)
	}
	// Deleting gives the reservation back; usage survives a restart.
	if err := s.DeleteStream("R"); err != nil {
		t.Fatal(err)
	}
	if err := add(StreamConfig{Name: "BIG", Subjects: []string{"big"}, MaxBytes: 1500}); err != nil {
		t.Fatalf("after the delete: %v", err)
	}
	s = s.reopen(t)
	st, _ = s.Stream("U")
	if ack := publish(t, s, st, "u", nil, payload); !errors.Is(ack.Err, ErrAccountResources) {
		t.Fatalf("publish after restart into a full account: %+v", ack)
	}
	if _, file := s.Reserved(); file != 1500 {
		t.Fatalf("reserved after restart %d, want BIG's 1500", file)
	}
}

func TestPoolIsSharedByStores(t *testing.T) {
	pool := &Pool{MaxFile: 3000}
	a := openTestStore(t, t.TempDir(), func(o *Options) { o.Pool = pool })
	b := openTestStore(t, t.TempDir(), func(o *Options) { o.Pool = pool })
	mustAdd(t, a, StreamConfig{Name: "A", Subjects: []string{"a"}, MaxBytes: 2500})
	if _, _, err := b.AddStream(StreamConfig{Name: "B", Subjects: []string{"b"}, MaxBytes: 1000}); !errors.Is(err, ErrInsufficientStorage) {
		t.Fatalf("reservation past the server's limit: %v", err)
	}
	st := mustAdd(t, b, StreamConfig{Name: "B", Subjects: []string{"b"}})
	payload := make([]byte, 300)
	var stored int
	for i := 0; i < 20; i++ {
		ack := publish(t, b, st, "b", nil, payload)
		if ack.Err != nil {
			if !errors.Is(ack.Err, ErrInsufficientResources) {
				t.Fatalf("publish %d: %v", i, ack.Err)
			}
			break
		}
		stored++
	}
	if stored != 9 { // 9 × 331 bytes fit in 3000
		t.Fatalf("%d stored", stored)
	}
}
