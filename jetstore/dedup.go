package jetstore

// dedupIndex remembers the message ids (PublishOptions.MsgID) of recent
// messages for the stream's duplicate window.
type dedupIndex struct {
	ids   map[string]dedupEntry
	order []dedupItem // by time, oldest first, from head
	head  int
}

type dedupEntry struct {
	seq uint64
	ts  int64
}

type dedupItem struct {
	id string
	ts int64
}

// find returns the sequence stored under id if it is newer than since.
func (d *dedupIndex) find(id string, since int64) (uint64, bool) {
	e, ok := d.ids[id]
	if !ok || e.ts < since {
		return 0, false
	}
	return e.seq, true
}

func (d *dedupIndex) add(id string, seq uint64, ts int64) {
	if d.ids == nil {
		d.ids = make(map[string]dedupEntry)
	}
	d.ids[id] = dedupEntry{seq: seq, ts: ts}
	d.order = append(d.order, dedupItem{id: id, ts: ts})
}

// expire forgets ids stored before the given time.
func (d *dedupIndex) expire(before int64) {
	for d.head < len(d.order) && d.order[d.head].ts < before {
		it := d.order[d.head]
		if e, ok := d.ids[it.id]; ok && e.ts == it.ts {
			delete(d.ids, it.id)
		}
		d.order[d.head] = dedupItem{}
		d.head++
	}
	// Compact once the consumed prefix dominates, keeping appends cheap.
	if d.head > 1024 && d.head > len(d.order)/2 {
		d.order = append(d.order[:0], d.order[d.head:]...)
		d.head = 0
	}
}
