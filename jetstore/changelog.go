package jetstore

// The change log is a bounded ring of the stream's recent appends and
// deletes, in order. Consumers replay it to keep their pending counts exact
// without rescanning the stream for every delivery; one that falls further
// behind than the ring holds recounts from the indexes instead.

const changeLogSize = 1 << 14

type change struct {
	seq     uint64
	subject string
	add     bool
}

type changeLog struct {
	ring []change
	next uint64 // changes ever recorded; the ring holds the last len(ring)
	// epoch changes when the log is reset (after a reload), so that
	// consumers holding old positions recount.
	epoch uint64
}

func (l *changeLog) record(seq uint64, subject string, add bool) {
	l.ring[l.next%uint64(len(l.ring))] = change{seq: seq, subject: subject, add: add}
	l.next++
}

// since replays the changes after position pos, or reports ok=false when
// they are no longer all in the ring. Changes applied but not yet durable
// are included: a consumer counts them as pending at once and delivers them
// once committed; a failed commit resets the log (new epoch).
func (l *changeLog) since(pos uint64, fn func(change)) (end uint64, ok bool) {
	if pos > l.next || l.next-pos > uint64(len(l.ring)) {
		return l.next, false
	}
	for p := pos; p < l.next; p++ {
		fn(l.ring[p%uint64(len(l.ring))])
	}
	return l.next, true
}

// enableChangesLocked starts recording changes (when the first consumer is
// created).
func (st *Stream) enableChangesLocked() {
	if st.changes == nil {
		st.changes = &changeLog{ring: make([]change, changeLogSize)}
	}
}
