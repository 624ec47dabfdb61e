package jetstore

import "time"

// Consumer features beyond delivering a stream: pausing (pause_until,
// Stream.PauseConsumer), priority groups (consumer_priority.go) and the
// push rate limit (consumer_rate.go).

// RequiredLevel is the JetStream API level the consumer's features need.
func (c *ConsumerConfig) RequiredLevel() int {
	if c.PauseUntil != nil && !c.PauseUntil.IsZero() || c.PriorityPolicy != "" || len(c.PriorityGroups) > 0 || c.PriorityTimeout != 0 {
		return 1
	}
	return 0
}

// normalizeFeatures validates the feature settings and fills defaults.
func (cfg *ConsumerConfig) normalizeFeatures() error {
	if p := cfg.PauseUntil; p != nil && !p.IsZero() {
		utc := p.UTC()
		cfg.PauseUntil = &utc
	}
	if cfg.RateLimit > 0 && cfg.isPull() {
		return ErrPullWithRateLimit
	}
	return cfg.normalizePriority()
}

// pausedUntil is when a paused consumer resumes, zero when it is not
// paused (Consumer.mu held).
func (c *Consumer) pausedUntil(now time.Time) time.Time {
	if p := c.cfg.PauseUntil; p != nil && now.Before(*p) {
		return *p
	}
	return time.Time{}
}

// featureInfoLocked fills the info of the consumer's features.
func (c *Consumer) featureInfoLocked(info *ConsumerInfo) {
	now := c.st.store.now()
	if until := c.pausedUntil(now); !until.IsZero() {
		info.Paused, info.PauseRemaining = true, until.Sub(now)
	}
	info.PriorityGroups = c.priorityInfoLocked()
}

// PauseConsumer pauses the named consumer until the given time (a time
// in the past, or zero, resumes it): it delivers nothing before then,
// while pull requests wait and heartbeats go on. The pause is part of the
// configuration, so a durable stays paused across a restart.
func (st *Stream) PauseConsumer(name string, until time.Time) (*Consumer, error) {
	st.cmu.Lock()
	defer st.cmu.Unlock()
	c, ok := st.consumers[name]
	if !ok {
		return nil, ErrConsumerNotFound
	}
	cfg := c.Config()
	if until.IsZero() {
		cfg.PauseUntil = nil
	} else {
		utc := until.UTC()
		cfg.PauseUntil = &utc
	}
	if err := c.update(cfg); err != nil {
		return nil, err
	}
	return c, nil
}
