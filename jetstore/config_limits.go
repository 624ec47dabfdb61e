package jetstore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/midgemq/midge/sublist"
)

// The ranges of configuration values. Every check the reference server
// makes is made here with its wording; a few more refuse values the
// reference accepts but that would make the store misbehave: a backoff of
// zero redelivers in a loop, a first sequence near the top of the range
// wraps around, negative durations and counts mean nothing.

// Lengths and sizes the reference server bounds.
const (
	MaxDescriptionLen = 4 << 10   // bytes of a stream's or consumer's description
	MaxMetadataLen    = 128 << 10 // bytes of metadata keys and values together
	maxReplicas       = 5
	minDuplicates     = 100 * time.Millisecond
	minMaxExpires     = time.Millisecond
	// maxFirstSeq keeps a stream's sequences far from wrapping around.
	maxFirstSeq = math.MaxInt64
)

// Consumer configuration errors with a code of their own in the API.
var (
	ErrReplicasNegative     = errors.New("replicas count cannot be negative")
	ErrAckWaitNegative      = errors.New("consumer ack wait needs to be positive")
	ErrBackOffNotPositive   = errors.New("consumer backoff needs to be positive")
	ErrMaxDeliverBackOff    = errors.New("max deliver is required to be > length of backoff values")
	ErrDescriptionTooLong   = fmt.Errorf("consumer description is too long, maximum allowed is %d", MaxDescriptionLen)
	ErrMetadataTooLarge     = fmt.Errorf("consumer metadata exceeds maximum size of %dKB", MaxMetadataLen>>10)
	ErrMaxWaitingNegative   = errors.New("consumer max waiting needs to be positive")
	ErrMaxBatchNegative     = errors.New("consumer max request batch needs to be > 0")
	ErrMaxExpiresTooSmall   = errors.New("consumer max request expires needs to be >= 1ms")
	ErrPullWithRateLimit    = errors.New("consumer in pull mode can not have rate limit set")
	ErrPullWithHeartbeat    = errors.New("consumer idle heartbeat requires a push based consumer")
	ErrPullWithFlowControl  = errors.New("consumer flow control requires a push based consumer")
	ErrMaxPendingNeedsAck   = errors.New("consumer requires ack policy for max ack pending")
	ErrDeliverWildcards     = errors.New("consumer deliver subject has wildcards")
	ErrPullRequiresAckOnWQ  = errors.New("consumer in pull mode requires explicit ack policy on workqueue stream")
	ErrDeliverSubjectCycles = errors.New("consumer deliver subject forms a cycle")
)

// SamplingError refuses a sample frequency that is not a percentage.
type SamplingError struct{ Value string }

func (e *SamplingError) Error() string {
	return fmt.Sprintf("failed to parse consumer sampling configuration: %q is not a percentage", e.Value)
}

// InvalidPolicyError refuses a deliver policy whose start options do not
// fit it.
type InvalidPolicyError struct{ Reason string }

func (e *InvalidPolicyError) Error() string { return e.Reason }

// checkRanges checks the values of a stream configuration (as given,
// before defaults) that normalize does not adjust.
func (c *StreamConfig) checkRanges() error {
	switch {
	case len(c.Name) > maxNameLen:
		return errStreamConfig("stream name is too long, maximum allowed is %d", maxNameLen)
	case len(c.Description) > MaxDescriptionLen:
		return errStreamConfig("stream description is too long, maximum allowed is %d", MaxDescriptionLen)
	case metadataLen(c.Metadata) > MaxMetadataLen:
		return errStreamConfig("stream metadata exceeds maximum size of %d bytes", MaxMetadataLen)
	case c.Replicas < 0:
		return ErrReplicasNegative
	case c.Replicas > maxReplicas:
		return errStreamConfig("maximum replicas is %d", maxReplicas)
	case c.MaxAge < 0:
		return errStreamConfig("max age can not be negative")
	case c.Duplicates > 0 && c.Duplicates < minDuplicates:
		return errStreamConfig("duplicates window needs to be >= 100ms")
	case c.FirstSeq > maxFirstSeq:
		return errStreamConfig("first sequence can not be larger than %d", uint64(maxFirstSeq))
	case c.ConsumerLimits.InactiveThreshold < 0:
		return errStreamConfig("consumer limits inactive threshold can not be negative")
	case c.ConsumerLimits.MaxAckPending < -1:
		return errStreamConfig("consumer limits max ack pending can not be below -1")
	case !c.NoAck && containsFullWildcard(c.Subjects):
		return errStreamConfig("capturing all subjects requires no-ack to be true")
	}
	return nil
}

func containsFullWildcard(subjects []string) bool {
	for _, s := range subjects {
		if s == ">" {
			return true
		}
	}
	return false
}

func metadataLen(m map[string]string) int {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	return n
}

// checkRanges checks the values of a consumer configuration (as given,
// before defaults) for stream scfg.
func (cfg *ConsumerConfig) checkRanges(scfg *StreamConfig) error {
	if cfg.Replicas < 0 {
		return ErrReplicasNegative
	}
	for _, b := range cfg.BackOff {
		if b <= 0 {
			return ErrBackOffNotPositive
		}
	}
	if cfg.AckWait < 0 {
		return ErrAckWaitNegative
	}
	if n := len(cfg.BackOff); n > 0 && cfg.MaxDeliver > 0 && n > cfg.MaxDeliver {
		return ErrMaxDeliverBackOff
	}
	if len(cfg.Description) > MaxDescriptionLen {
		return ErrDescriptionTooLong
	}
	if err := cfg.checkModeRanges(scfg); err != nil {
		return err
	}
	switch {
	case cfg.InactiveThreshold < 0:
		return errConsumerConfig("consumer inactive threshold can not be negative")
	case cfg.MaxRequestMaxBytes < 0:
		return errConsumerConfig("consumer max request bytes can not be negative")
	case cfg.MaxAckPending < -1:
		return errConsumerConfig("consumer max ack pending can not be below -1")
	}
	if err := cfg.checkStartPolicy(); err != nil {
		return err
	}
	if f := cfg.SampleFrequency; f != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(f, "%"))
		if err != nil || n < 0 || n > 100 {
			return &SamplingError{Value: f}
		}
	}
	if metadataLen(cfg.Metadata) > MaxMetadataLen {
		return ErrMetadataTooLarge
	}
	return nil
}

// checkModeRanges checks what depends on the consumer being pushed or
// pulled.
func (cfg *ConsumerConfig) checkModeRanges(scfg *StreamConfig) error {
	if !cfg.isPull() {
		switch {
		case !sublist.ValidLiteralSubject(cfg.DeliverSubject):
			return ErrDeliverWildcards
		case scfg.capturesSubject(cfg.DeliverSubject):
			return ErrDeliverSubjectCycles
		case cfg.MaxWaiting != 0:
			return ErrPushWithMaxWaiting
		case cfg.MaxAckPending > 0 && cfg.AckPolicy == AckNone:
			return ErrMaxPendingNeedsAck
		case cfg.Heartbeat > 0 && cfg.Heartbeat < minIdleHeartbeat:
			return ErrHeartbeatTooSmall
		}
		return nil
	}
	switch {
	case (cfg.AckPolicy == AckNone || cfg.AckPolicy == "") && scfg.Retention == RetentionWorkQueue:
		return ErrPullRequiresAckOnWQ
	case cfg.RateLimit > 0:
		return ErrPullWithRateLimit
	case cfg.MaxWaiting < 0:
		return ErrMaxWaitingNegative
	case cfg.Heartbeat > 0:
		return ErrPullWithHeartbeat
	case cfg.FlowControl:
		return ErrPullWithFlowControl
	case cfg.MaxRequestBatch < 0:
		return ErrMaxBatchNegative
	case cfg.MaxRequestExpires < 0 || cfg.MaxRequestExpires > 0 && cfg.MaxRequestExpires < minMaxExpires:
		return ErrMaxExpiresTooSmall
	}
	return nil
}

// checkStartPolicy checks that the start options fit the deliver policy,
// in the reference server's words.
func (cfg *ConsumerConfig) checkStartPolicy() error {
	hasSeq, hasTime := cfg.OptStartSeq > 0, cfg.OptStartTime != nil
	policy, needSeq, needTime := "", false, false
	switch cfg.DeliverPolicy {
	case "", "undefined", DeliverAll:
		policy = "all"
	case DeliverLast:
		policy = "last"
	case DeliverNew:
		policy = "new"
	case DeliverLastPerSubject:
		policy = "last per subject"
	case DeliverByStartSeq:
		policy, needSeq = "by start sequence", true
	case DeliverByStartTime:
		policy, needTime = "by start time", true
	default:
		return nil // an unknown policy is refused by normalizePolicies
	}
	switch {
	case needSeq && !hasSeq:
		return invalidPolicy("consumer delivery policy is deliver %s, but optional start sequence is not set", policy)
	case needTime && !hasTime:
		return invalidPolicy("consumer delivery policy is deliver %s, but optional start time is not set", policy)
	case needTime && hasSeq:
		return invalidPolicy("consumer delivery policy is deliver %s, but optional start start sequence is also set", policy)
	case !needSeq && hasSeq:
		return invalidPolicy("consumer delivery policy is deliver %s, but optional start sequence is also set", policy)
	case !needTime && hasTime:
		return invalidPolicy("consumer delivery policy is deliver %s, but optional start time is also set", policy)
	case cfg.DeliverPolicy == DeliverLastPerSubject && len(cfg.filters()) == 0:
		return invalidPolicy("consumer delivery policy is deliver %s, but optional filter subject is not set", policy)
	}
	return nil
}

func invalidPolicy(format string, args ...any) error {
	return &InvalidPolicyError{Reason: fmt.Sprintf(format, args...)}
}
