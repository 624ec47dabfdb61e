package jetstore

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// Consumers of replicated streams run on the stream's leader only. Their
// configuration and state are the replication layer's: it exports the
// state of each consumer on the leader (ExportState), replicates it, and
// starts the consumers again from it on whichever replica leads next
// (RestoreConsumer). On the replicas the store keeps no consumer state of
// its own for them (the replication layer gives them memory storage).
//
// Retention that removes acknowledged messages (work queue, interest)
// must remove them on every replica, in the group's order: with a retain
// hook set, the stream hands the sequences to the hook instead of removing
// them itself, and the replication layer proposes the removal.

// replicaHooks are the replication layer's hooks of one stream.
type replicaHooks struct {
	retain func(seqs []uint64)
}

// SetRetainHook makes the stream hand the sequences its retention policy
// would remove to fn instead (nil restores local removal).
func (st *Stream) SetRetainHook(fn func(seqs []uint64)) {
	if fn == nil {
		st.hooks.Store(nil)
		return
	}
	st.hooks.Store(&replicaHooks{retain: fn})
}

// retainHook returns the retain hook, nil without one.
func (st *Stream) retainHook() func([]uint64) {
	if h := st.hooks.Load(); h != nil {
		return h.retain
	}
	return nil
}

// hookSlot is embedded in Stream.
type hookSlot = atomic.Pointer[replicaHooks]

// ConsumerState is a consumer's position and pending acknowledgements,
// enough to resume it on another replica.
type ConsumerState struct {
	Next    uint64          `json:"next_seq"`
	DSeq    uint64          `json:"consumer_seq"`
	DSSeq   uint64          `json:"stream_seq"`
	LPS     []uint64        `json:"last_per_subject,omitempty"`
	Pending []snapshotEntry `json:"pending,omitempty"`
}

// ExportState returns the consumer's state, encoded.
func (c *Consumer) ExportState() []byte {
	c.mu.Lock()
	s := ConsumerState{Next: c.cur.next, DSeq: c.cur.dseq, DSSeq: c.cur.dsseq, LPS: c.cur.lps}
	for seq, p := range c.acks.pending {
		s.Pending = append(s.Pending, snapshotEntry{Seq: seq, CSeq: p.cseq, DC: p.dc, Sent: p.sent})
	}
	c.mu.Unlock()
	b, _ := json.Marshal(s) // plain fields: cannot fail
	return b
}

// Created is when the consumer was created.
func (c *Consumer) Created() time.Time { return c.created }

// RestoreConsumer starts a consumer with the given configuration, creation
// time and exported state (nil: a new consumer at its deliver policy). A
// consumer of that name must not exist.
func (st *Stream) RestoreConsumer(cfg ConsumerConfig, created time.Time, state []byte) (*Consumer, error) {
	scfg := st.Config()
	cfg, err := normalizeConsumer(cfg, &scfg)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Durable
	}
	var s ConsumerState
	if state != nil {
		if err := json.Unmarshal(state, &s); err != nil {
			return nil, fmt.Errorf("consumer %s: state: %w", cfg.Name, err)
		}
	}
	st.cmu.Lock()
	defer st.cmu.Unlock()
	if _, ok := st.consumers[cfg.Name]; ok {
		return nil, ErrConsumerExists
	}
	if st.consumers == nil {
		st.consumers = make(map[string]*Consumer)
	}
	c, err := st.newConsumer(cfg, created, state == nil)
	if err != nil {
		return nil, err
	}
	if state != nil {
		st.mu.RLock()
		c.mu.Lock()
		c.cur.next, c.cur.dseq, c.cur.dsseq, c.cur.lps = s.Next, s.DSeq, s.DSSeq, s.LPS
		for _, e := range s.Pending {
			c.acks.restore(e.Seq, e.CSeq, e.DC, e.Sent)
		}
		c.acks.rebuild(c.ackWaitFor)
		c.recountLocked()
		c.acks.updateFloor(c.cur.dseq, c.cur.dsseq)
		c.mu.Unlock()
		st.mu.RUnlock()
	}
	st.consumers[c.name] = c
	st.publishInterestLocked()
	st.startConsumer(c)
	return c, nil
}

// DetachConsumer stops a consumer without telling its waiting pull
// requests anything (they expire and their clients ask again, of the new
// leader) and forgets it here; its state stays with the replication layer.
func (st *Stream) DetachConsumer(name string) error {
	st.cmu.Lock()
	c, ok := st.consumers[name]
	if ok {
		delete(st.consumers, name)
		st.publishInterestLocked()
	}
	st.cmu.Unlock()
	if !ok {
		return ErrConsumerNotFound
	}
	c.stop(0)
	if fn := st.store.opts.ConsumerRemoved; fn != nil {
		fn(st, c)
	}
	return nil
}
