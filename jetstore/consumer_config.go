package jetstore

import (
	"encoding/json"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Consumer policies as clients spell them.
const (
	DeliverAll            = "all"
	DeliverLast           = "last"
	DeliverNew            = "new"
	DeliverByStartSeq     = "by_start_sequence"
	DeliverByStartTime    = "by_start_time"
	DeliverLastPerSubject = "last_per_subject"

	AckNone     = "none"
	AckAll      = "all"
	AckExplicit = "explicit"

	ReplayInstant  = "instant"
	ReplayOriginal = "original"
)

// Consumer defaults, as the reference server applies them.
const (
	DefaultAckWait           = 30 * time.Second
	DefaultMaxWaiting        = 512
	DefaultMaxAckPending     = 1000
	DefaultEphemeralInactive = 5 * time.Second
	minIdleHeartbeat         = 100 * time.Millisecond
)

// ConsumerConfig is a consumer's configuration in the JetStream API's JSON
// shape; the store persists it in the same shape.
type ConsumerConfig struct {
	Name               string            `json:"name,omitempty"`
	Durable            string            `json:"durable_name,omitempty"`
	Description        string            `json:"description,omitempty"`
	DeliverPolicy      string            `json:"deliver_policy"`
	OptStartSeq        uint64            `json:"opt_start_seq,omitempty"`
	OptStartTime       *time.Time        `json:"opt_start_time,omitempty"`
	AckPolicy          string            `json:"ack_policy"`
	AckWait            time.Duration     `json:"ack_wait,omitempty"`
	MaxDeliver         int               `json:"max_deliver,omitempty"`
	BackOff            []time.Duration   `json:"backoff,omitempty"`
	FilterSubject      string            `json:"filter_subject,omitempty"`
	FilterSubjects     []string          `json:"filter_subjects,omitempty"`
	ReplayPolicy       string            `json:"replay_policy"`
	RateLimit          uint64            `json:"rate_limit_bps,omitempty"`
	SampleFrequency    string            `json:"sample_freq,omitempty"`
	MaxWaiting         int               `json:"max_waiting,omitempty"`
	MaxAckPending      int               `json:"max_ack_pending,omitempty"`
	HeadersOnly        bool              `json:"headers_only,omitempty"`
	MaxRequestBatch    int               `json:"max_batch,omitempty"`
	MaxRequestExpires  time.Duration     `json:"max_expires,omitempty"`
	MaxRequestMaxBytes int               `json:"max_bytes,omitempty"`
	InactiveThreshold  time.Duration     `json:"inactive_threshold,omitempty"`
	Replicas           int               `json:"num_replicas"`
	MemoryStorage      bool              `json:"mem_storage,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
	DeliverSubject     string            `json:"deliver_subject,omitempty"`
	DeliverGroup       string            `json:"deliver_group,omitempty"`
	FlowControl        bool              `json:"flow_control,omitempty"`
	Heartbeat          time.Duration     `json:"idle_heartbeat,omitempty"`
	PauseUntil         *time.Time        `json:"pause_until,omitempty"`
	PriorityPolicy     string            `json:"priority_policy,omitempty"`
	PriorityGroups     []string          `json:"priority_groups,omitempty"`
	PriorityTimeout    time.Duration     `json:"priority_timeout,omitempty"`
}

// isPull reports whether the consumer is pulled from (no deliver subject).
func (c *ConsumerConfig) isPull() bool { return c.DeliverSubject == "" }

// filters returns the consumer's filter subjects (none: everything).
func (c *ConsumerConfig) filters() []string {
	if c.FilterSubject != "" {
		return []string{c.FilterSubject}
	}
	return c.FilterSubjects
}

// normalizeConsumer fills defaults and validates cfg for stream scfg.
func normalizeConsumer(cfg ConsumerConfig, scfg *StreamConfig) (ConsumerConfig, error) {
	cfg.Metadata = withoutServerKeys(cfg.Metadata)
	if cfg.Durable != "" && !ValidName(cfg.Durable) {
		return cfg, errConsumerConfig("durable name can not contain '.', '*', '>'")
	}
	if cfg.Name != "" && !ValidName(cfg.Name) {
		return cfg, errConsumerConfig("consumer name can not contain '.', '*', '>'")
	}
	if err := cfg.normalizePolicies(); err != nil {
		return cfg, err
	}
	if err := cfg.normalizeFilters(); err != nil {
		return cfg, err
	}
	if cfg.AckPolicy != AckNone && cfg.AckWait <= 0 {
		cfg.AckWait = DefaultAckWait
	}
	if len(cfg.BackOff) > 0 {
		cfg.AckWait = cfg.BackOff[0]
	}
	if cfg.MaxDeliver == 0 || cfg.MaxDeliver < -1 {
		cfg.MaxDeliver = -1
	}
	if cfg.AckPolicy != AckNone && cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = DefaultMaxAckPending
		if l := scfg.ConsumerLimits.MaxAckPending; l > 0 {
			cfg.MaxAckPending = l
		}
	}
	if cfg.isPull() {
		if cfg.MaxWaiting == 0 {
			cfg.MaxWaiting = DefaultMaxWaiting
		}
	} else {
		if cfg.MaxWaiting != 0 {
			return cfg, ErrPushWithMaxWaiting
		}
		if !sublist.ValidLiteralSubject(cfg.DeliverSubject) {
			return cfg, errConsumerConfig("consumer deliver subject has wildcards")
		}
		if scfg.capturesSubject(cfg.DeliverSubject) {
			return cfg, errConsumerConfig("consumer deliver subject forms a cycle")
		}
	}
	if cfg.FlowControl && cfg.Heartbeat <= 0 {
		return cfg, ErrFlowControlNeedsHB
	}
	if cfg.Heartbeat > 0 && cfg.Heartbeat < minIdleHeartbeat {
		return cfg, ErrHeartbeatTooSmall
	}
	if cfg.Durable == "" && cfg.InactiveThreshold == 0 {
		cfg.InactiveThreshold = DefaultEphemeralInactive
		if l := scfg.ConsumerLimits.InactiveThreshold; l > 0 {
			cfg.InactiveThreshold = l
		}
	}
	if err := cfg.normalizeFeatures(); err != nil {
		return cfg, err
	}
	return cfg, cfg.checkWorkQueue(scfg)
}

func (cfg *ConsumerConfig) normalizePolicies() error {
	switch cfg.DeliverPolicy {
	case "", "undefined":
		cfg.DeliverPolicy = DeliverAll
	case DeliverAll, DeliverLast, DeliverNew, DeliverLastPerSubject:
	case DeliverByStartSeq:
		if cfg.OptStartSeq == 0 {
			return errConsumerConfig("consumer delivery policy is deliver by start sequence, but optional start sequence is not set")
		}
	case DeliverByStartTime:
		if cfg.OptStartTime == nil {
			return errConsumerConfig("consumer delivery policy is deliver by start time, but optional start time is not set")
		}
	default:
		return errConsumerConfig("invalid deliver policy %q", cfg.DeliverPolicy)
	}
	if cfg.DeliverPolicy != DeliverByStartSeq && cfg.OptStartSeq > 0 {
		return errConsumerConfig("consumer delivery policy is not deliver by start sequence, but optional start sequence is set")
	}
	if cfg.DeliverPolicy != DeliverByStartTime && cfg.OptStartTime != nil && !cfg.OptStartTime.IsZero() {
		return errConsumerConfig("consumer delivery policy is not deliver by start time, but optional start time is set")
	}
	switch cfg.AckPolicy {
	case "":
		cfg.AckPolicy = AckNone
	case AckNone, AckAll, AckExplicit:
	default:
		return errConsumerConfig("invalid ack policy %q", cfg.AckPolicy)
	}
	switch cfg.ReplayPolicy {
	case "":
		cfg.ReplayPolicy = ReplayInstant
	case ReplayInstant, ReplayOriginal:
	default:
		return errConsumerConfig("invalid replay policy %q", cfg.ReplayPolicy)
	}
	return nil
}

// normalizeFilters checks the filter subjects as the reference server
// does: each valid and non-empty, and none a subset of another (filters
// that merely intersect, such as "*.x" and "a.*", are allowed: a message
// matching both is delivered once). A filter need not match the stream's
// subjects: those can change, and sources or transforms store others.
func (cfg *ConsumerConfig) normalizeFilters() error {
	if cfg.FilterSubject != "" && len(cfg.FilterSubjects) > 0 {
		return ErrMultipleFilters
	}
	filters := cfg.filters()
	for i, f := range filters {
		if f == "" {
			return ErrEmptyFilter
		}
		if !sublist.ValidSubject(f) {
			return errStreamConfig("invalid subject")
		}
		for _, g := range filters[i+1:] {
			if sublist.IsSubsetMatch(f, g) || sublist.IsSubsetMatch(g, f) {
				return ErrOverlappingFilters
			}
		}
	}
	return nil
}

// checkWorkQueue applies the rules of work-queue streams that do not
// involve other consumers.
func (cfg *ConsumerConfig) checkWorkQueue(scfg *StreamConfig) error {
	if scfg.Retention != RetentionWorkQueue {
		return nil
	}
	if cfg.AckPolicy != AckExplicit {
		return ErrWQRequiresExplicitAck
	}
	if cfg.DeliverPolicy != DeliverAll {
		return ErrWQNotDeliverAll
	}
	return nil
}

// checkConsumerUpdate validates changing a consumer from old to next.
func checkConsumerUpdate(old, next *ConsumerConfig) error {
	switch {
	case old.AckPolicy != next.AckPolicy:
		return errConsumerConfig("ack policy can not be updated")
	case old.DeliverPolicy != next.DeliverPolicy:
		return errConsumerConfig("deliver policy can not be updated")
	case old.OptStartSeq != next.OptStartSeq:
		return errConsumerConfig("start sequence can not be updated")
	case old.isPull() != next.isPull():
		return errConsumerConfig("can not update push consumer to pull based")
	case old.ReplayPolicy != next.ReplayPolicy:
		return errConsumerConfig("replay policy can not be updated")
	case old.MemoryStorage != next.MemoryStorage:
		return errConsumerConfig("can not update memory storage")
	case old.DeliverGroup != next.DeliverGroup && !old.isPull():
		return errConsumerConfig("deliver group can not be updated")
	}
	return nil
}

// sameConsumerConfig reports whether two normalised configurations are
// equal, for an idempotent create.
func sameConsumerConfig(a, b ConsumerConfig) bool {
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}
