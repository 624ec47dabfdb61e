package jetstore

import (
	"slices"
	"sort"

	"github.com/midgemq/midge/sublist"
)

// subjectIndex maps each stored subject to the sequences of its live
// messages, in order. It answers last-by-subject, per-subject limits and
// filtered reads without touching message data.
type subjectIndex struct {
	ids   map[string]uint32
	infos []subjectInfo // by id
	free  []uint32      // ids of subjects with no messages left
	count int           // subjects with at least one message
}

type subjectInfo struct {
	name string
	seqs []uint64 // live sequences, ascending
}

func newSubjectIndex() subjectIndex {
	return subjectIndex{ids: make(map[string]uint32)}
}

// add records seq under subject and returns the subject's id. The lookup
// by []byte does not allocate when the subject is known.
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
	if len(info.seqs) == 0 {
		x.count++
	}
	info.seqs = append(info.seqs, seq)
	return id
}

// remove drops seq from subject id. Front removal, the common case for
// limits and acks, is O(1).
func (x *subjectIndex) remove(id uint32, seq uint64) {
	info := &x.infos[id]
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
	if len(info.seqs) == 0 {
		x.count--
		delete(x.ids, info.name)
		*info = subjectInfo{}
		x.free = append(x.free, id)
	}
}

func (x *subjectIndex) lookup(subject string) *subjectInfo {
	id, ok := x.ids[subject]
	if !ok {
		return nil
	}
	return &x.infos[id]
}

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
		if len(info.seqs) > 0 && (filter == ">" || sublist.MatchLiteral(info.name, filter)) {
			fn(info)
		}
	}
}

// lastMatching returns the highest live sequence on a subject matching
// filter, or 0.
func (x *subjectIndex) lastMatching(filter string) uint64 {
	var last uint64
	x.matching(filter, func(info *subjectInfo) {
		last = max(last, info.seqs[len(info.seqs)-1])
	})
	return last
}

// nextMatching returns the lowest live sequence >= from on a subject
// matching filter, or 0.
func (x *subjectIndex) nextMatching(filter string, from uint64) uint64 {
	var next uint64
	x.matching(filter, func(info *subjectInfo) {
		i := sort.Search(len(info.seqs), func(i int) bool { return info.seqs[i] >= from })
		if i < len(info.seqs) && (next == 0 || info.seqs[i] < next) {
			next = info.seqs[i]
		}
	})
	return next
}

// counts returns the number of live messages per subject matching filter.
func (x *subjectIndex) counts(filter string) map[string]uint64 {
	out := make(map[string]uint64)
	x.matching(filter, func(info *subjectInfo) { out[info.name] = uint64(len(info.seqs)) })
	return out
}
