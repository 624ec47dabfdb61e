package jetstore

import "time"

// Expiry removes messages past the stream's max age and messages whose own
// time to live ran out. With subject delete markers configured, a subject's
// last message does not simply vanish: it is replaced by a marker message
// on the same subject (headers from Headers.DeleteMarker), which itself
// expires after the marker TTL. Messages stored with a negative TTL are
// never expired, not even by max age.
//
// One timer per stream (Stream.expiry) is armed for the earliest of the
// two; its function runs a pass under the stream lock and makes the
// removals (and markers) durable like a purge.

// maxNeverScan bounds how many never-expiring messages at the front of a
// stream the timer looks past to find the oldest one that does expire.
const maxNeverScan = 1024

// scheduleExpiryLocked arms the timer for the next expiry, or stops it
// when nothing will expire.
func (st *Stream) scheduleExpiryLocked() {
	now := st.store.now()
	var due int64
	if st.cfg.MaxAge > 0 {
		due = now.Add(st.cfg.MaxAge).UnixNano()
		if ts, ok := st.oldestExpiringLocked(); ok {
			due = ts + int64(st.cfg.MaxAge)
		}
	}
	if next := st.features.ttl.next(); next != 0 && (due == 0 || next < due) {
		due = next
	}
	st.features.timerDue = due
	if due == 0 {
		if st.expiry != nil {
			st.expiry.Stop()
		}
		return
	}
	// At least a little while: expiries that fall together run together.
	wait := max(time.Duration(due-now.UnixNano()), 10*time.Millisecond)
	if st.expiry == nil {
		st.expiry = time.AfterFunc(wait, st.expire)
	} else {
		st.expiry.Reset(wait)
	}
}

// expireSoonerLocked re-arms the timer when a new TTL falls before it.
func (st *Stream) expireSoonerLocked(expires int64) {
	if due := st.features.timerDue; due == 0 || expires < due {
		st.scheduleExpiryLocked()
	}
}

// oldestExpiringLocked is the stored time of the oldest message that max
// age may remove.
func (st *Stream) oldestExpiringLocked() (int64, bool) {
	from := st.state.first
	for i := 0; i < maxNeverScan; i++ {
		seq, err := st.nextLocked(from, "")
		if err != nil {
			return 0, false
		}
		m, err := st.getLocked(seq)
		if err != nil {
			return 0, false
		}
		if !st.neverExpires(m.Header) {
			return m.Time.UnixNano(), true
		}
		from = seq + 1
	}
	return 0, false
}

// expire is the timer's function: one pass over what is due.
func (st *Stream) expire() {
	select {
	case <-st.quit:
		return
	default:
	}
	st.mu.Lock()
	now := st.store.now()
	removed := 0
	if st.cfg.MaxAge > 0 {
		cutoff := now.Add(-st.cfg.MaxAge)
		for from := st.state.first; ; {
			seq, err := st.nextLocked(from, "")
			if err != nil {
				break
			}
			m, err := st.getLocked(seq)
			if err != nil || !m.Time.Before(cutoff) {
				break
			}
			from = seq + 1
			if st.neverExpires(m.Header) {
				continue
			}
			st.expireMsgLocked(&m, now)
			removed++
		}
	}
	for _, seq := range st.features.ttl.due(now.UnixNano()) {
		if seq > st.committed {
			// Not durable yet: look again shortly.
			st.features.ttl.add(seq, now.UnixNano(), 10*time.Millisecond)
			continue
		}
		if m, err := st.getLocked(seq); err == nil {
			st.expireMsgLocked(&m, now)
			removed++
		}
	}
	st.scheduleExpiryLocked()
	st.mu.Unlock()
	if removed > 0 {
		// A failure poisons the stream like any other; nothing to answer.
		_ = st.persist()
		st.listeners.notify()
	}
}

// expireMsgLocked removes an expired message, leaving a delete marker in
// its place when it was its subject's last and markers are configured.
func (st *Stream) expireMsgLocked(m *StoredMsg, now time.Time) {
	st.deleteLocked(m.Seq)
	h := st.store.opts.Headers
	sdm := time.Duration(st.features.sdmTTL)
	if sdm <= 0 || h == nil || st.subj.lookup(m.Subject) != nil || h.IsDeleteMarker(m.Header) {
		return
	}
	marker := &InMsg{
		Subject:  m.Subject,
		Header:   h.DeleteMarker(DeleteMarkerMaxAge, sdm),
		Options:  &PublishOptions{HasTTL: true, TTL: sdm},
		internal: true,
	}
	if r := st.applyLocked(marker, now); r.Err != nil {
		st.store.log.Warn("subject delete marker not stored", "stream", st.name, "subject", m.Subject, "error", r.Err)
	}
}

// neverExpires reports whether a stored header asks never to expire.
func (st *Stream) neverExpires(header []byte) bool {
	h := st.store.opts.Headers
	if h == nil || len(header) == 0 {
		return false
	}
	ttl, ok := h.MessageTTL(header)
	return ok && ttl < 0
}
