package multiraft

import (
	"slices"
	"sync/atomic"
)

type hostStats struct {
	framesSent     atomic.Uint64
	bytesSent      atomic.Uint64
	framesReceived atomic.Uint64
	bytesReceived  atomic.Uint64
	itemsReceived  atomic.Uint64
	badFrames      atomic.Uint64
}

// Stats are a host's traffic counters since Open.
type Stats struct {
	FramesSent     uint64
	BytesSent      uint64
	FramesReceived uint64
	BytesReceived  uint64
	// ItemsReceived counts the group messages (raft and quiesce) inside
	// the frames received.
	ItemsReceived uint64
	BadFrames     uint64
	Groups        int
	Quiesced      int
}

// Stats returns the host's counters.
func (h *Host) Stats() Stats {
	h.mu.Lock()
	groups := h.order
	h.mu.Unlock()
	s := Stats{
		FramesSent: h.stats.framesSent.Load(), BytesSent: h.stats.bytesSent.Load(),
		FramesReceived: h.stats.framesReceived.Load(), BytesReceived: h.stats.bytesReceived.Load(),
		ItemsReceived: h.stats.itemsReceived.Load(),
		BadFrames:     h.stats.badFrames.Load(), Groups: len(groups),
	}
	for _, g := range groups {
		if g.quiesced.Load() {
			s.Quiesced++
		}
	}
	return s
}

func slicesSortByID(gs []*group) {
	slices.SortFunc(gs, func(a, b *group) int { return cmpID(a.id, b.id) })
}
