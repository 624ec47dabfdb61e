package jetstore

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/midgemq/midge/sublist"
)

// A stream's consumers: creation (an identical create returns the existing
// consumer; a different one is an update, which only some fields may make),
// lookup, deletion, loading durables on open, and the retention policies
// that delete acknowledged messages.

// Consumer create actions.
const (
	ActionCreateOrUpdate = ""
	ActionCreate         = "create"
	ActionUpdate         = "update"
)

// consumerMeta is what a durable consumer's meta file holds.
type consumerMeta struct {
	Config  ConsumerConfig `json:"config"`
	Created time.Time      `json:"created"`
}

// Consumer returns the named consumer.
func (st *Stream) Consumer(name string) (*Consumer, error) {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	if c, ok := st.consumers[name]; ok {
		return c, nil
	}
	return nil, ErrConsumerNotFound
}

// Consumers returns the stream's consumers sorted by name.
func (st *Stream) Consumers() []*Consumer {
	st.cmu.Lock()
	out := make([]*Consumer, 0, len(st.consumers))
	for _, c := range st.consumers {
		out = append(out, c)
	}
	st.cmu.Unlock()
	slices.SortFunc(out, func(a, b *Consumer) int { return strings.Compare(a.name, b.name) })
	return out
}

// NumConsumers is the number of consumers.
func (st *Stream) NumConsumers() int {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	return len(st.consumers)
}

// AddConsumer creates a consumer or, depending on action, returns or
// updates the existing one with that name. cfg.Name (or cfg.Durable) names
// it; with neither, a name is generated.
func (st *Stream) AddConsumer(cfg ConsumerConfig, action string) (*Consumer, bool, error) {
	scfg := st.Config()
	cfg, err := normalizeConsumer(cfg, &scfg)
	if err != nil {
		return nil, false, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Durable
	}
	if cfg.Name == "" {
		cfg.Name = nuid.Next()
	}
	st.cmu.Lock()
	defer st.cmu.Unlock()
	if st.consumers == nil {
		st.consumers = make(map[string]*Consumer)
	}
	if old, ok := st.consumers[cfg.Name]; ok {
		return st.existingConsumer(old, cfg, action)
	}
	if action == ActionUpdate {
		return nil, false, ErrConsumerDoesNotExist
	}
	if scfg.MaxConsumers > 0 && len(st.consumers) >= scfg.MaxConsumers {
		return nil, false, ErrMaxConsumers
	}
	if err := st.checkConsumerLimitsLocked(&cfg); err != nil {
		return nil, false, err
	}
	if err := st.checkWorkQueueConsumerLocked(&cfg); err != nil {
		return nil, false, err
	}
	c, err := st.newConsumer(cfg, st.store.now().UTC(), true)
	if err != nil {
		return nil, false, err
	}
	st.consumers[c.name] = c
	st.publishInterestLocked()
	st.startConsumer(c)
	return c, true, nil
}

func (st *Stream) existingConsumer(old *Consumer, cfg ConsumerConfig, action string) (*Consumer, bool, error) {
	cur := old.Config()
	if sameConsumerConfig(cur, cfg) {
		return old, false, nil
	}
	if action == ActionCreate {
		return nil, false, ErrConsumerExists
	}
	if err := checkConsumerUpdate(&cur, &cfg); err != nil {
		return nil, false, err
	}
	if err := st.checkWorkQueueConsumerLocked(&cfg); err != nil {
		return nil, false, err
	}
	if err := old.update(cfg); err != nil {
		return nil, false, err
	}
	st.publishInterestLocked()
	return old, false, nil
}

// checkWorkQueueConsumerLocked enforces one consumer per subject on
// work-queue streams, when a consumer is created or its filters change
// (the consumer of the same name is the one being updated).
func (st *Stream) checkWorkQueueConsumerLocked(cfg *ConsumerConfig) error {
	if st.Config().Retention != RetentionWorkQueue {
		return nil
	}
	mine := cfg.filters()
	for name, other := range st.consumers {
		if name == cfg.Name {
			continue
		}
		ocfg := other.Config()
		theirs := ocfg.filters()
		if len(mine) == 0 || len(theirs) == 0 {
			if len(mine) == 0 && len(theirs) == 0 {
				return ErrWQMultipleUnfiltered
			}
			return ErrWQNotUnique
		}
		for _, a := range mine {
			for _, b := range theirs {
				if sublist.SubjectsCollide(a, b) {
					return ErrWQNotUnique
				}
			}
		}
	}
	return nil
}

// stateDir is where a consumer keeps its state; ok is false when it keeps
// it in memory only: consumers that asked for memory storage (see
// consumer_restart.go) and every consumer of a stream whose storage keeps
// no consumer state. Ephemerals keep theirs like durables, as in the
// reference server, so that they survive a restart.
func (st *Stream) stateDir(cfg *ConsumerConfig) (dir string, ok bool) {
	if cfg.MemoryStorage {
		return "", false
	}
	return st.storage.consumerDir(cfg.Name)
}

// newConsumer builds a consumer; fresh ones start at their deliver policy,
// loaded ones from their saved state.
func (st *Stream) newConsumer(cfg ConsumerConfig, created time.Time, fresh bool) (*Consumer, error) {
	c := &Consumer{
		st:         st,
		name:       cfg.Name,
		created:    created,
		cfg:        cfg,
		filter:     newSubjectFilter(cfg.filters()),
		acks:       newAckTracker(),
		deliverTo:  []byte(cfg.DeliverSubject),
		wake:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		timer:      time.NewTimer(time.Hour),
		lastActive: st.store.now(),
	}
	c.timer.Stop()
	c.send = nopSender{}
	if fn := st.store.opts.NewSender; fn != nil {
		c.send = fn(st.Name(), c.name)
	}
	dir, persistent := st.stateDir(&cfg)
	if fresh && persistent {
		meta, err := json.Marshal(consumerMeta{Config: cfg, Created: created})
		if err != nil {
			return nil, err
		}
		if err := st.store.fs.MkdirAll(dir, 0o755); err != nil {
			return nil, st.store.storageFailed("cannot create consumer "+cfg.Name, st.name, err)
		}
		if err := writeFileAtomic(st.store.fs, filepath.Join(dir, metaFile), meta); err != nil {
			return nil, st.store.storageFailed("cannot create consumer "+cfg.Name, st.name, err)
		}
	}
	st.mu.Lock()
	st.enableChangesLocked()
	if fresh {
		c.startPositionLocked()
	}
	st.mu.Unlock()
	if persistent {
		c.mu.Lock()
		err := c.openConsumerLog(dir)
		c.mu.Unlock()
		if err != nil {
			return nil, st.store.storageFailed("cannot open consumer state "+cfg.Name, st.name, err)
		}
	} else if !fresh {
		if err := c.loadSaved(); err != nil {
			return nil, errStorage(err)
		}
	}
	st.mu.RLock()
	c.mu.Lock()
	c.recountLocked()
	c.acks.updateFloor(c.cur.dseq, c.cur.dsseq)
	c.mu.Unlock()
	st.mu.RUnlock()
	return c, nil
}

// startConsumer tells the server about the consumer, then runs it: the
// server's subscriptions for it (acks, pull requests) exist before its
// first delivery can be acknowledged.
func (st *Stream) startConsumer(c *Consumer) {
	if fn := st.store.opts.ConsumerAdded; fn != nil {
		fn(st, c)
	}
	wake, stop := st.Watch()
	go func() {
		defer stop()
		c.run(wake)
	}()
	c.kick()
}

// update applies a new configuration to a running consumer.
func (c *Consumer) update(cfg ConsumerConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		meta, err := json.Marshal(consumerMeta{Config: cfg, Created: c.created})
		if err == nil {
			err = writeFileAtomic(c.st.store.fs, filepath.Join(c.log.dir, metaFile), meta)
		}
		if err != nil {
			return c.st.store.storageFailed("cannot save consumer configuration "+c.name, c.st.name, err)
		}
	}
	filtersChanged := !slices.Equal(c.filter.subjects, cfg.filters())
	c.cfg, c.deliverTo = cfg, []byte(cfg.DeliverSubject)
	if filtersChanged {
		c.filter = newSubjectFilter(cfg.filters())
		c.st.mu.RLock()
		c.recountLocked()
		c.st.mu.RUnlock()
	}
	c.kick()
	return nil
}

// DeleteConsumer stops and removes a consumer; waiting pull requests are
// told it was deleted.
func (st *Stream) DeleteConsumer(name string) error {
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
	c.stop(StatusConsumerDeleted)
	st.forget(c)
	return nil
}

// removeInactive deletes a consumer that had no interest for its inactive
// threshold; it runs on the consumer's own goroutine.
func (st *Stream) removeInactive(c *Consumer) {
	st.cmu.Lock()
	if st.consumers[c.name] != c {
		st.cmu.Unlock()
		return
	}
	delete(st.consumers, c.name)
	st.publishInterestLocked()
	st.cmu.Unlock()
	if !c.signalQuit() {
		return // the store is closing and stops it; the consumer stays on disk
	}
	c.mu.Lock()
	c.failWaitingLocked(StatusConsumerDeleted)
	c.timer.Stop()
	c.log.close()
	c.mu.Unlock()
	st.forget(c)
}

// forget removes a deleted consumer's files and tells the server.
func (st *Stream) forget(c *Consumer) {
	if dir, ok := st.stateDir(&c.cfg); ok {
		_ = st.store.fs.RemoveAll(dir)
	}
	if fn := st.store.opts.ConsumerRemoved; fn != nil {
		fn(st, c)
	}
}

// stop ends the consumer's goroutine; a status kind other than 0 ends the
// waiting pull requests. The state is snapshotted for the next start.
func (c *Consumer) stop(kind StatusKind) {
	if !c.signalQuit() {
		return
	}
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	c.timer.Stop()
	if kind != 0 {
		c.failWaitingLocked(kind)
	}
	if c.log != nil {
		_ = c.persistLocked(true)
		if err := c.snapshotLocked(); err != nil {
			c.st.store.log.Warn("consumer snapshot failed", "consumer", c.name, "error", err)
		}
		c.log.close()
	}
}

// signalQuit closes c.quit once and reports whether this call closed it:
// a store closing and a client deleting the consumer may race to stop it.
func (c *Consumer) signalQuit() bool {
	first := false
	c.quitOnce.Do(func() {
		close(c.quit)
		first = true
	})
	return first
}

// stopConsumers stops every consumer (stream deleted or store closing).
func (st *Stream) stopConsumers(kind StatusKind, remove bool) {
	st.cmu.Lock()
	all := make([]*Consumer, 0, len(st.consumers))
	for _, c := range st.consumers {
		all = append(all, c)
	}
	if remove {
		st.consumers = nil
	}
	st.cmu.Unlock()
	for _, c := range all {
		c.stop(kind)
		if !remove {
			c.saveForRestart()
		}
		if remove {
			if fn := st.store.opts.ConsumerRemoved; fn != nil {
				fn(st, c)
			}
		}
	}
}

// loadConsumers opens the consumers saved under the stream.
func (st *Stream) loadConsumers() {
	names, err := st.storage.consumerNames()
	if err != nil {
		return
	}
	for _, name := range names {
		if err := st.loadConsumer(name); err != nil {
			st.store.log.Error("cannot open consumer; leaving it untouched", "stream", st.Name(),
				"consumer", name, "error", err)
		}
	}
}

func (st *Stream) loadConsumer(name string) error {
	dir, _ := st.storage.consumerDir(name)
	raw, err := st.store.fs.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return err
	}
	var meta consumerMeta
	if err := json.Unmarshal(raw, &meta); err != nil {
		return fmt.Errorf("consumer meta: %w", err)
	}
	c, err := st.newConsumer(meta.Config, meta.Created, false)
	if err != nil {
		return err
	}
	st.cmu.Lock()
	if st.consumers == nil {
		st.consumers = make(map[string]*Consumer)
	}
	st.consumers[c.name] = c
	st.publishInterestLocked()
	st.cmu.Unlock()
	st.startConsumer(c)
	return nil
}

// publishInterestLocked refreshes the filter sets the commit path reads
// for interest retention (cmu held).
func (st *Stream) publishInterestLocked() {
	sets := make([][]string, 0, len(st.consumers))
	for _, c := range st.consumers {
		sets = append(sets, c.cfg.filters())
	}
	st.interest.Store(&sets)
}

// DropsForNoInterest reports whether a message on subject would be dropped
// as soon as stored: an interest-retention stream without a consumer for
// it (message traces report it).
func (st *Stream) DropsForNoInterest(subject string) bool {
	return st.Config().Retention == RetentionInterest && !st.hasInterest(subject)
}

// hasInterest reports whether some consumer would receive subject.
func (st *Stream) hasInterest(subject string) bool {
	p := st.interest.Load()
	if p == nil {
		return false
	}
	for _, filters := range *p {
		if len(filters) == 0 || slices.ContainsFunc(filters, func(f string) bool { return sublist.MatchLiteral(subject, f) }) {
			return true
		}
	}
	return false
}

// retain applies the retention policy to messages c acknowledged.
func (st *Stream) retain(c *Consumer, acked []uint64) {
	var gone []uint64
	switch st.Config().Retention {
	case RetentionWorkQueue:
		gone = acked
	case RetentionInterest:
		others := st.Consumers()
		for _, seq := range acked {
			subject, ok := st.subjectOf(seq)
			if !ok {
				continue
			}
			if !slices.ContainsFunc(others, func(o *Consumer) bool { return o != c && !o.hasAcked(seq, subject) }) {
				gone = append(gone, seq)
			}
		}
	default:
		return
	}
	if len(gone) == 0 {
		return
	}
	if hook := st.retainHook(); hook != nil {
		hook(gone) // a replicated stream removes them through its group
		return
	}
	st.mu.Lock()
	for _, seq := range gone {
		st.deleteLocked(seq)
	}
	st.mu.Unlock()
	if err := st.persist(); err != nil {
		st.store.log.Error("removing acknowledged messages failed", "stream", st.Name(), "error", err)
	}
	st.listeners.notify()
}

func (st *Stream) subjectOf(seq uint64) (string, bool) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	b := st.blockFor(seq)
	if b == nil {
		return "", false
	}
	e, err := st.entryOf(b, seq)
	if err != nil || e.off == deletedOff || e.off == unreadableOff {
		return "", false
	}
	return st.subj.name(e.subj), true
}

type nopSender struct{}

func (nopSender) Deliver([]byte, Delivery) {}
func (nopSender) Status([]byte, Status)    {}
func (nopSender) AckDone([]byte)           {}
func (nopSender) AckFailed([]byte)         {}
func (nopSender) Flush()                   {}
func (nopSender) HasInterest([]byte) bool  { return false }
