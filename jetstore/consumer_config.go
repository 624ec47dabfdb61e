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
	// RecordBeforeSend writes each delivery's record to the state file
	// before the receiver sees the message, at the cost of a write per
	// message. In-process receivers (MQTT sessions) act on a delivery at
	// once, before the consumer's pass ends and writes its records; without
	// this a process crash could forget a delivery the client saw, and the
	// message would come again unmarked as a duplicate.
	RecordBeforeSend bool `json:"record_before_send,omitempty"`
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
	if err := cfg.checkRanges(scfg); err != nil {
		return cfg, err
	}
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
	if cfg.isPull() && cfg.MaxWaiting == 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	if cfg.FlowControl && cfg.Heartbeat <= 0 {
		return cfg, ErrFlowControlNeedsHB
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
	case DeliverAll, DeliverLast, DeliverNew, DeliverLastPerSubject, DeliverByStartSeq, DeliverByStartTime:
		// Start options are checked against the policy in checkStartPolicy.
	default:
		return errConsumerConfig("invalid deliver policy %q", cfg.DeliverPolicy)
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
			return errStreamConfig("invalid subject") // the reference server's code and words
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
