package jetstore

import (
	"slices"
	"sort"

	"github.com/midgemq/midge/sublist"
)

// subjectIndex keeps, for each stored subject, how many live messages it
// has and where they are. It answers last-by-subject, per-subject limits
// and filtered reads without touching message data.
//
// Its memory grows with subjects, not messages: a subject lists its live
// sequences only while it has at most listedMax of them (a KV key within
// its history: every limit and read is exact and immediate). A subject
// with more is wide: it keeps its count and two bounds, and the sequences
// between them are found by walking the block entries, whose subject ids
// say which messages are its own (Stream.scanSubject).
type subjectIndex struct {
	ids   map[string]uint32
	infos []subjectInfo // by id
	free  []uint32      // ids of subjects with no messages left
	count int           // subjects with at least one message
}

// listedMax is the most live messages a subject lists. Past it a list
// would cost more than the entries it duplicates spare a walk.
const listedMax = 8

type subjectInfo struct {
	name string
	seqs []uint64     // live sequences, ascending, while listed
	wide *wideSubject // instead of seqs, past listedMax messages
}

// wideSubject is a subject with too many messages to list. first and last
// are bounds: no live message of the subject lies below first or above
// last, and both are exact right after the subject became wide or a walk
// settled them. Removing the message at a bound moves the bound inwards
// by one; the next walk starts there.
type wideSubject struct {
	count       int
	first, last uint64
}

func newSubjectIndex() subjectIndex {
	return subjectIndex{ids: make(map[string]uint32)}
}

// msgs is how many live messages the subject has.
func (info *subjectInfo) msgs() int {
	if info.wide != nil {
		return info.wide.count
	}
	return len(info.seqs)
}

// add records seq, the subject's newest message, and returns the
// subject's id. The lookup by []byte does not allocate when the subject is
// known.
func (x *subjectIndex) add(subject []byte, seq uint64) uint32 {
	id, ok := x.ids[string(subject)]
	if !ok {
		name := string(subject)
		if n := len(x.free); n > 0 {
			id = x.free[n-1]
			x.free = x.free[:n-1]
			x.infos[id] = subjectInfo{name: name}
		} else {
			id = uint32(len(x.infos))
			x.infos = append(x.infos, subjectInfo{name: name})
		}
		x.ids[name] = id
	}
	info := &x.infos[id]
	switch w := info.wide; {
	case w != nil:
		w.count++
		w.last = max(w.last, seq)
	case len(info.seqs) == listedMax:
		info.wide = &wideSubject{count: listedMax + 1, first: info.seqs[0], last: seq}
		info.seqs = nil
	default:
		if len(info.seqs) == 0 {
			x.count++
		}
		info.seqs = append(info.seqs, seq)
	}
	return id
}

// remove drops seq, a live message, from subject id. Front removal, the
// common case for limits and acks, is O(1).
func (x *subjectIndex) remove(id uint32, seq uint64) {
	info := &x.infos[id]
	if w := info.wide; w != nil {
		w.count--
		if seq == w.first {
			w.first++
		}
		if seq == w.last {
			w.last--
		}
		if w.count > 0 {
			return
		}
	} else {
		switch {
		case len(info.seqs) > 0 && info.seqs[0] == seq:
			info.seqs = info.seqs[1:]
		default:
			i, found := slices.BinarySearch(info.seqs, seq)
			if !found {
				return
			}
			info.seqs = slices.Delete(info.seqs, i, i+1)
		}
		if len(info.seqs) > 0 {
			return
		}
	}
	x.count--
	delete(x.ids, info.name)
	*info = subjectInfo{}
	x.free = append(x.free, id)
}

func (x *subjectIndex) lookup(subject string) *subjectInfo {
	id, ok := x.ids[subject]
	if !ok {
		return nil
	}
	return &x.infos[id]
}

// id returns the id of a subject that has messages.
func (x *subjectIndex) id(info *subjectInfo) uint32 { return x.ids[info.name] }

func (x *subjectIndex) name(id uint32) string { return x.infos[id].name }

// matching calls fn for every subject with messages that matches filter
// (which may hold wildcards); a literal filter is one map lookup.
func (x *subjectIndex) matching(filter string, fn func(info *subjectInfo)) {
	if sublist.IsLiteral(filter) {
		if info := x.lookup(filter); info != nil {
			fn(info)
		}
		return
	}
	for i := range x.infos {
		info := &x.infos[i]
		if info.msgs() > 0 && (filter == ">" || sublist.MatchLiteral(info.name, filter)) {
			fn(info)
		}
	}
}

// counts returns the number of live messages per subject matching filter.
func (x *subjectIndex) counts(filter string) map[string]uint64 {
	out := make(map[string]uint64)
	x.matching(filter, func(info *subjectInfo) { out[info.name] = uint64(info.msgs()) })
	return out
}

// The lookups below read a wide subject's messages from the block entries,
// so they are the stream's; they need the stream lock, for reading unless
// they say otherwise.

// scanSubject calls fn with each live sequence of subject id from from up
// to to, ascending, until fn returns false.
func (st *Stream) scanSubject(id uint32, from, to uint64, fn func(seq uint64) bool) {
	for seq := from; seq <= to; {
		b, at := st.blockFrom(seq)
		if b == nil {
			return
		}
		end := min(b.last(), to)
		ents, err := st.entries(b)
		if err != nil {
			return
		}
		for seq = at; seq <= end; seq++ {
			if e := &ents[seq-b.first]; e.subj == id && e.off < unreadableOff && !fn(seq) {
				return
			}
		}
	}
}

// scanSubjectBack calls fn with each live sequence of subject id from from
// down to to, descending, until fn returns false.
func (st *Stream) scanSubjectBack(id uint32, from, to uint64, fn func(seq uint64) bool) {
	i := sort.Search(len(st.blocks), func(i int) bool { return st.blocks[i].last() >= from })
	for i = min(i, len(st.blocks)-1); i >= 0; i-- {
		b := st.blocks[i]
		if !b.hasMsgs() || b.first > from {
			continue
		}
		if b.last() < to {
			return
		}
		ents, err := st.entries(b)
		if err != nil {
			return
		}
		for seq := min(from, b.last()); seq >= max(to, b.first); seq-- {
			if e := &ents[seq-b.first]; e.subj == id && e.off < unreadableOff && !fn(seq) {
				return
			}
			if seq == 0 {
				return
			}
		}
	}
}

// subjectFirst is the subject's oldest live sequence.
func (st *Stream) subjectFirst(info *subjectInfo) uint64 {
	return st.subjectNext(info, 0)
}

// subjectLast is the subject's newest live sequence.
func (st *Stream) subjectLast(info *subjectInfo) uint64 {
	return st.subjectPrev(info, ^uint64(0))
}

// subjectNext is the subject's lowest live sequence >= from, or 0.
func (st *Stream) subjectNext(info *subjectInfo, from uint64) uint64 {
	w := info.wide
	if w == nil {
		i := sort.Search(len(info.seqs), func(i int) bool { return info.seqs[i] >= from })
		if i < len(info.seqs) {
			return info.seqs[i]
		}
		return 0
	}
	var found uint64
	st.scanSubject(st.subj.id(info), max(from, w.first), w.last, func(seq uint64) bool {
		found = seq
		return false
	})
	return found
}

// subjectPrev is the subject's highest live sequence < below, or 0.
func (st *Stream) subjectPrev(info *subjectInfo, below uint64) uint64 {
	w := info.wide
	if w == nil {
		i := sort.Search(len(info.seqs), func(i int) bool { return info.seqs[i] >= below })
		if i > 0 {
			return info.seqs[i-1]
		}
		return 0
	}
	if below == 0 || below-1 < w.first {
		return 0
	}
	var found uint64
	st.scanSubjectBack(st.subj.id(info), min(below-1, w.last), w.first, func(seq uint64) bool {
		found = seq
		return false
	})
	return found
}

// subjectSeqs appends the subject's live sequences up to upTo, ascending.
func (st *Stream) subjectSeqs(out []uint64, info *subjectInfo, upTo uint64) []uint64 {
	w := info.wide
	if w == nil {
		for _, seq := range info.seqs {
			if seq > upTo {
				break
			}
			out = append(out, seq)
		}
		return out
	}
	st.scanSubject(st.subj.id(info), w.first, min(w.last, upTo), func(seq uint64) bool {
		out = append(out, seq)
		return true
	})
	return out
}

// subjectCountFrom counts the subject's live sequences >= from.
func (st *Stream) subjectCountFrom(info *subjectInfo, from uint64) int {
	w := info.wide
	if w == nil {
		i, _ := slices.BinarySearch(info.seqs, from)
		return len(info.seqs) - i
	}
	if from <= w.first {
		return w.count
	}
	n := 0
	st.scanSubject(st.subj.id(info), from, w.last, func(uint64) bool { n++; return true })
	return n
}

// settleSubjectFirstLocked returns the subject's oldest live sequence and,
// for a wide subject, makes it the bound, so that removing it moves the
// bound past it (stream lock held for writing).
func (st *Stream) settleSubjectFirstLocked(info *subjectInfo) uint64 {
	seq := st.subjectFirst(info)
	if w := info.wide; w != nil && seq != 0 {
		w.first = seq
	}
	return seq
}

// lastMatchingLocked returns the highest live sequence on a subject
// matching filter, or 0.
func (st *Stream) lastMatchingLocked(filter string) uint64 {
	var last uint64
	st.subj.matching(filter, func(info *subjectInfo) {
		last = max(last, st.subjectLast(info))
	})
	return last
}

// nextMatchingLocked returns the lowest live sequence >= from on a subject
// matching filter, or 0.
func (st *Stream) nextMatchingLocked(filter string, from uint64) uint64 {
	var next uint64
	st.subj.matching(filter, func(info *subjectInfo) {
		if s := st.subjectNext(info, from); s != 0 && (next == 0 || s < next) {
			next = s
		}
	})
	return next
}
