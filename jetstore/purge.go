package jetstore

import (
	"slices"
)

// PurgeRequest selects what a purge removes; with none of its fields set,
// everything.
type PurgeRequest struct {
	Filter string `json:"filter,omitempty"` // only messages on matching subjects
	Seq    uint64 `json:"seq,omitempty"`    // only messages below this sequence
	Keep   uint64 `json:"keep,omitempty"`   // keep this many of the newest (matching) messages
}

// Purge removes messages and returns how many.
func (st *Stream) Purge(req PurgeRequest) (uint64, error) {
	st.mu.Lock()
	if !st.usableLocked() {
		st.mu.Unlock()
		return 0, ErrStreamUnavailable
	}
	if st.cfg.DenyPurge {
		st.mu.Unlock()
		return 0, ErrPurgeNotPermitted
	}
	if req.Seq > 0 && req.Keep > 0 {
		st.mu.Unlock()
		return 0, ErrPurgeSeqAndKeep
	}
	var purged uint64
	if req.Filter == "" || req.Filter == ">" {
		purged = st.purgeAllLocked(req)
	} else {
		purged = st.purgeFilteredLocked(req)
	}
	st.mu.Unlock()
	if err := st.persist(); err != nil {
		return 0, errStorage(err)
	}
	st.listeners.notify()
	return purged, nil
}

func (st *Stream) purgeAllLocked(req PurgeRequest) uint64 {
	var purged uint64
	switch {
	case req.Seq > 0:
		for st.state.msgs > 0 && st.state.first < req.Seq {
			st.deleteLocked(st.state.first)
			purged++
		}
	default:
		for st.state.msgs > req.Keep {
			st.deleteLocked(st.state.first)
			purged++
		}
	}
	if st.state.msgs == 0 {
		st.state.first = st.state.last + 1
	}
	return purged
}

func (st *Stream) purgeFilteredLocked(req PurgeRequest) uint64 {
	var seqs []uint64
	st.subj.matching(req.Filter, func(info *subjectInfo) { seqs = st.subjectSeqs(seqs, info, ^uint64(0)) })
	slices.Sort(seqs)
	switch {
	case req.Seq > 0:
		i, _ := slices.BinarySearch(seqs, req.Seq)
		seqs = seqs[:i]
	case req.Keep > 0:
		if uint64(len(seqs)) <= req.Keep {
			return 0
		}
		seqs = seqs[:uint64(len(seqs))-req.Keep]
	}
	var purged uint64
	for _, seq := range seqs {
		if st.deleteLocked(seq) {
			purged++
		}
	}
	return purged
}

// DeleteMsg removes one message.
func (st *Stream) DeleteMsg(seq uint64) error {
	st.mu.Lock()
	if !st.usableLocked() {
		st.mu.Unlock()
		return ErrStreamUnavailable
	}
	if st.cfg.DenyDelete {
		st.mu.Unlock()
		return ErrDeleteNotPermitted
	}
	if seq > st.committed || !st.deleteLocked(seq) {
		st.mu.Unlock()
		return ErrStoreEOF
	}
	st.mu.Unlock()
	if err := st.persist(); err != nil {
		return errStorage(err)
	}
	st.listeners.notify()
	return nil
}
