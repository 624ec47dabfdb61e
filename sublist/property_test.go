package sublist

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The alphabet is tiny on purpose: with few tokens, random patterns
// overlap often, which is where grouping and invalidation bugs live.
var (
	literalTokens = []string{"a", "b", "c"}
	patternTokens = []string{"a", "b", "c", "*", "*", ">"}
	queueNames    = []string{"", "", "q1", "q2"}
)

func randomSubject(rng *rand.Rand, tokens []string) string {
	n := 1 + rng.IntN(4)
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte('.')
		}
		token := tokens[rng.IntN(len(tokens))]
		if token == fullWildcard && i != n-1 {
			token = singleWildcard // '>' is only valid last
		}
		b.WriteString(token)
	}
	return b.String()
}

func TestMatchAgainstReference(t *testing.T) {
	for _, cacheSize := range []int{DefaultCacheSize, 8, 0} {
		rng := rand.New(rand.NewPCG(1, uint64(cacheSize)))
		runReferenceSteps(t, rng, NewWithCacheSize[int](cacheSize), 1000)
	}
}

// runReferenceSteps applies random inserts and removes to s and a model,
// checking every observable after each step.
func runReferenceSteps(t *testing.T, rng *rand.Rand, s *Sublist[int], steps int) {
	ref := newReferenceSublist()
	var stored []referenceEntry
	var generation uint64
	for range steps {
		var changed bool
		if len(stored) > 0 && rng.IntN(3) == 0 {
			// Remove, usually something stored but sometimes a miss.
			e := stored[rng.IntN(len(stored))]
			if rng.IntN(4) == 0 {
				e.value = 100 + rng.IntN(3)
			}
			changed = ref.remove(e.subject, e.queue, e.value)
			if err := s.Remove(e.subject, e.queue, e.value); (err == nil) != changed {
				t.Fatalf("Remove(%+v) = %v, reference changed=%v", e, err, changed)
			}
		} else {
			e := referenceEntry{
				subject: randomSubject(rng, patternTokens),
				queue:   queueNames[rng.IntN(len(queueNames))],
				value:   rng.IntN(6),
			}
			changed = ref.insert(e.subject, e.queue, e.value)
			mustInsert(t, s, e.subject, e.queue, e.value)
			if changed {
				stored = append(stored, e)
			}
		}
		if changed {
			generation++
		}
		if s.Generation() != generation || s.Count() != len(ref.entries) {
			t.Fatalf("Generation %d Count %d, want %d and %d",
				s.Generation(), s.Count(), generation, len(ref.entries))
		}
		for range 4 {
			checkMatch(t, s, ref, randomSubject(rng, literalTokens))
		}
	}
}
