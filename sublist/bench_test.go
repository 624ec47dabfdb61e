package sublist

import (
	"fmt"
	"testing"
)

// benchSublist holds a realistic spread of patterns: many literal
// subjects, a few wildcards and a queue group, so a match visits several
// branches of the trie.
func benchSublist(b *testing.B, cacheSize int) *Sublist[int] {
	b.Helper()
	s := NewWithCacheSize[int](cacheSize)
	for i := range 1000 {
		mustInsert(b, s, fmt.Sprintf("orders.%d.created", i), "", i)
	}
	mustInsert(b, s, "orders.*.created", "", -1)
	mustInsert(b, s, "orders.*.created", "workers", -2)
	mustInsert(b, s, "orders.>", "", -3)
	mustInsert(b, s, "events.*", "", -4)
	mustInsert(b, s, "audit.>", "", -5)
	return s
}

func BenchmarkMatchCacheHit(b *testing.B) {
	for _, bc := range []struct{ name, subject string }{
		{"literal", "orders.7.created"},
		{"star", "events.login"},
		{"full", "audit.user.42.login"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchSublist(b, DefaultCacheSize)
			s.Match(bc.subject)
			b.ReportAllocs()
			for b.Loop() {
				if s.Match(bc.subject).Len() == 0 {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkMatchBytesCacheHit(b *testing.B) {
	s := benchSublist(b, DefaultCacheSize)
	subject := []byte("orders.7.created")
	s.MatchBytes(subject)
	b.ReportAllocs()
	for b.Loop() {
		s.MatchBytes(subject)
	}
}

// BenchmarkMatchCacheMiss disables the cache so every call walks the trie
// and builds a fresh Result.
func BenchmarkMatchCacheMiss(b *testing.B) {
	s := benchSublist(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		s.Match("orders.7.created")
	}
}

func BenchmarkMatchParallelCacheHit(b *testing.B) {
	s := benchSublist(b, DefaultCacheSize)
	s.Match("orders.7.created")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Match("orders.7.created")
		}
	})
}

func BenchmarkHasInterest(b *testing.B) {
	s := benchSublist(b, 0)
	b.ReportAllocs()
	for b.Loop() {
		s.HasInterest("orders.7.created")
	}
}

func BenchmarkInsertRemove(b *testing.B) {
	s := benchSublist(b, DefaultCacheSize)
	b.ReportAllocs()
	for b.Loop() {
		mustInsert(b, s, "orders.new.created", "", 1)
		mustRemove(b, s, "orders.new.created", "", 1)
	}
}

func BenchmarkRemoveFromLargeSubject(b *testing.B) {
	const n = 10000
	s := New[int]()
	for i := range n {
		mustInsert(b, s, "big", "", i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v := i % n
		mustRemove(b, s, "big", "", v)
		mustInsert(b, s, "big", "", v)
	}
}
