package sublist

// Stats describe a Sublist for monitoring.
type Stats struct {
	Subscriptions int    // stored entries, as Count
	CachedResults int    // entries in the match cache
	Inserts       uint64 // successful Inserts since New
	Removes       uint64 // successful Removes since New
	// MaxFanout and AvgFanout are the largest and the mean Result.Len over
	// the cached results: how many receivers a recently published subject
	// reaches.
	MaxFanout int
	AvgFanout float64
}

// Stats returns the current figures. Matches and cache hits are not
// counted: that would put a shared counter on every publish.
func (s *Sublist[T]) Stats() Stats {
	st := Stats{
		Subscriptions: s.Count(),
		Inserts:       s.inserts.Load(),
		Removes:       s.removes.Load(),
	}
	c := s.cache
	if c == nil {
		return st
	}
	c.mu.RLock()
	total := 0
	for _, r := range c.entries {
		n := r.Len()
		total += n
		st.MaxFanout = max(st.MaxFanout, n)
	}
	st.CachedResults = len(c.entries)
	c.mu.RUnlock()
	if st.CachedResults > 0 {
		st.AvgFanout = float64(total) / float64(st.CachedResults)
	}
	return st
}
