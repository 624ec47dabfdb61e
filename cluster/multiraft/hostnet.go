package multiraft

import "slices"

// Tick advances the host's clock by one tick: every group that is not
// quiesced gets a raft tick, peers are heartbeaten when nothing else was
// sent to them for a heartbeat period, and peers not heard from for an
// election timeout are marked down. The runtime calls it every
// TickInterval; a simulation calls it itself.
func (h *Host) Tick() {
	if h.fatal() != nil {
		return
	}
	h.mu.Lock()
	h.tick++
	changed := false
	var beat []NodeID
	for id, p := range h.peers {
		if p.live && h.tick-p.lastHeard > uint64(h.cfg.ElectionTicks) {
			p.live = false
			changed = true
		}
		if h.tick-p.lastSent >= uint64(h.cfg.HeartbeatTicks) {
			beat = append(beat, id)
		}
	}
	groups := h.order
	h.mu.Unlock()
	if changed {
		h.livenessEpoch.Add(1)
	}
	for _, g := range groups {
		if changed || !g.quiesced.Load() {
			g.push(func(in *inputs) { in.ticks++ })
		}
	}
	slices.Sort(beat)
	for _, id := range beat {
		h.send(id, h.controlFrame(id))
	}
}

// controlFrame returns a frame with the quiesce items queued for a peer,
// or a bare heartbeat frame.
func (h *Host) controlFrame(to NodeID) []byte {
	h.ctlMu.Lock()
	b := h.control[to]
	delete(h.control, to)
	h.ctlMu.Unlock()
	if b == nil {
		return heartbeatFrame(h.id)
	}
	return b.frame(h.id)
}

// queueQuiesce queues a quiesce item for a peer; it leaves with the next
// frame to that peer (a batch's or a heartbeat).
func (h *Host) queueQuiesce(to NodeID, g GroupID, term, commit uint64) {
	h.ctlMu.Lock()
	b := h.control[to]
	if b == nil {
		b = &frameBuilder{}
		h.control[to] = b
	}
	b.addQuiesce(g, term, commit)
	h.ctlMu.Unlock()
}

// takeControl moves queued control items into the batch's frames.
func (h *Host) takeControl(out map[NodeID]*frameBuilder) {
	h.ctlMu.Lock()
	defer h.ctlMu.Unlock()
	for to, b := range h.control {
		if dst := out[to]; dst != nil {
			dst.buf = append(dst.buf, b.buf...)
			dst.count += b.count
		} else {
			out[to] = b
		}
		delete(h.control, to)
	}
}

func (h *Host) send(to NodeID, frame []byte) bool {
	h.mu.Lock()
	if p := h.peers[to]; p != nil {
		p.lastSent = h.tick
	}
	h.mu.Unlock()
	h.stats.framesSent.Add(1)
	h.stats.bytesSent.Add(uint64(len(frame)))
	return h.cfg.Transport.Send(to, frame)
}

// receive handles a frame from a peer: the peer is alive, and each item
// goes to its group. Items for groups this host does not have are dropped
// (their sender retries; a replica is created only by CreateGroup or
// JoinGroup). A malformed frame is dropped whole and counted.
func (h *Host) receive(frame []byte) {
	from, items, err := decodeFrame(frame)
	if err != nil {
		h.stats.badFrames.Add(1)
		return
	}
	h.stats.framesReceived.Add(1)
	h.stats.bytesReceived.Add(uint64(len(frame)))
	h.stats.itemsReceived.Add(uint64(len(items)))
	h.mu.Lock()
	p := h.peers[from]
	if p == nil && from != h.id {
		p = &peerState{}
		h.peers[from] = p
	}
	changed := false
	if p != nil {
		p.lastHeard = h.tick
		if !p.live {
			p.live, changed = true, true
		}
	}
	h.mu.Unlock()
	if changed {
		h.livenessEpoch.Add(1)
		h.wakeAll()
	}
	for i := 0; i < len(items); {
		g := h.lookup(items[i].group)
		j := i + 1
		for j < len(items) && items[j].group == items[i].group {
			j++
		}
		if g != nil {
			batch := items[i:j]
			g.push(func(in *inputs) { in.msgs = append(in.msgs, batch...) })
		}
		i = j
	}
}

func (h *Host) wakeAll() {
	h.mu.Lock()
	groups := h.order
	h.mu.Unlock()
	for _, g := range groups {
		h.schedule(g)
	}
}
