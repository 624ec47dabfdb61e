package sublist

import "testing"

func TestStats(t *testing.T) {
	s := New[int]()
	for i, subj := range []string{"a.b", "a.*", "a.>", "c"} {
		if err := s.Insert(subj, "", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Insert("a.b", "q", 9); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("c", "", 3); err != nil {
		t.Fatal(err)
	}
	_ = s.Remove("c", "", 3) // not found: not counted
	s.Match("a.b")           // 4 receivers: a.b, a.*, a.>, queue member
	s.Match("a.x")           // 2 receivers
	s.Match("zzz")           // none
	got := s.Stats()
	want := Stats{Subscriptions: 4, CachedResults: 3, Inserts: 5, Removes: 1, MaxFanout: 4, AvgFanout: 2}
	if got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}
