package jsapi

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// Rules the API applies to stream and consumer create requests before the
// store sees the configuration, as the reference server applies them:
//
//   - pedantic mode: a request with "pedantic": true is refused wherever the
//     server would otherwise adjust a value it was given (a negative limit
//     set to -1, a default taken from the stream's consumer limits, a
//     duplicate window shortened to the stream's max age);
//   - the stream's consumer_limits: a consumer that leaves max_ack_pending
//     or inactive_threshold unset inherits the stream's limit, and one that
//     asks for more than the limit is refused;
//   - replicas: a single server refuses consumers with more than one.

// pedanticRequest reads the "pedantic" flag of a create request body (a
// stream configuration or a consumer create request, both carry it at the
// top level).
func pedanticRequest(body []byte) bool {
	var r struct {
		Pedantic bool `json:"pedantic"`
	}
	return json.Unmarshal(body, &r) == nil && r.Pedantic
}

func errPedantic(format string, args ...any) *apiError {
	return jsErrPedantic.with(fmt.Sprintf(format, args...))
}

// checkPedanticStream refuses, in pedantic mode, a stream configuration
// the server would adjust.
func checkPedanticStream(cfg *jetstore.StreamConfig) *apiError {
	limits := []struct {
		name  string
		value int64
	}{
		{"max_msgs", cfg.MaxMsgs},
		{"max_msgs_per_subject", cfg.MaxMsgsPerSubject},
		{"max_bytes", cfg.MaxBytes},
		{"max_msg_size", int64(cfg.MaxMsgSize)},
		{"max_consumers", int64(cfg.MaxConsumers)},
	}
	for _, l := range limits {
		if l.value < -1 {
			return errPedantic("%s must be set to -1", l.name)
		}
	}
	if cfg.Duplicates == 0 && cfg.MaxAge > 0 && cfg.MaxAge < jetstore.DefaultDuplicateWindow {
		return errPedantic("duplicate window cannot be bigger than max age")
	}
	return nil
}

// checkConsumerRequest applies the request rules to a consumer create
// request for stream scfg, filling the defaults the stream's consumer
// limits give. pedantic refuses what would otherwise be adjusted.
func checkConsumerRequest(cfg *jetstore.ConsumerConfig, scfg *jetstore.StreamConfig, pedantic bool) *apiError {
	if pedantic {
		if e := checkPedanticConsumer(cfg, scfg); e != nil {
			return e
		}
	}
	if cfg.Replicas < 0 {
		return jsErrReplicasNegative
	}
	limits := scfg.ConsumerLimits
	if cfg.MaxAckPending == 0 && limits.MaxAckPending > 0 {
		cfg.MaxAckPending = limits.MaxAckPending
	}
	if cfg.InactiveThreshold == 0 && limits.InactiveThreshold > 0 {
		cfg.InactiveThreshold = limits.InactiveThreshold
	}
	if limits.MaxAckPending > 0 && cfg.MaxAckPending > limits.MaxAckPending {
		return jsErrMaxAckPendingExcess.with(limits.MaxAckPending)
	}
	if limits.InactiveThreshold > 0 && cfg.InactiveThreshold > limits.InactiveThreshold {
		return jsErrInactiveThresholdExcess.with(limits.InactiveThreshold)
	}
	return nil
}

// checkPedanticConsumer refuses the consumer settings the server would
// adjust.
func checkPedanticConsumer(cfg *jetstore.ConsumerConfig, scfg *jetstore.StreamConfig) *apiError {
	if cfg.MaxDeliver < -1 {
		return errPedantic("max_deliver must be set to -1")
	}
	if cfg.MaxAckPending < -1 {
		return errPedantic("max_ack_pending must be set to -1")
	}
	negative := []struct {
		name  string
		value int64
	}{
		{"max_waiting", int64(cfg.MaxWaiting)},
		{"max_batch", int64(cfg.MaxRequestBatch)},
		{"max_expires", int64(cfg.MaxRequestExpires)},
		{"max_bytes", int64(cfg.MaxRequestMaxBytes)},
		{"idle_heartbeat", int64(cfg.Heartbeat)},
		{"inactive_threshold", int64(cfg.InactiveThreshold)},
		{"priority_timeout", int64(cfg.PriorityTimeout)},
	}
	for _, n := range negative {
		if n.value < 0 {
			return errPedantic("%s must not be negative", n.name)
		}
	}
	if len(cfg.BackOff) > 0 && ackWaitOrDefault(cfg) != cfg.BackOff[0] {
		return errPedantic("first backoff value has to equal batch AckWait")
	}
	if cfg.MaxAckPending == 0 && scfg.ConsumerLimits.MaxAckPending > 0 {
		return errPedantic("max_ack_pending must be set if it's configured in stream limits")
	}
	if cfg.InactiveThreshold == 0 && scfg.ConsumerLimits.InactiveThreshold > 0 {
		return errPedantic("inactive_threshold must be set if it's configured in stream limits")
	}
	return nil
}

// ackWaitOrDefault is the ack wait the server compares the first backoff
// with: the one given, or the default for policies that acknowledge.
func ackWaitOrDefault(cfg *jetstore.ConsumerConfig) time.Duration {
	if cfg.AckWait == 0 && (cfg.AckPolicy == jetstore.AckExplicit || cfg.AckPolicy == jetstore.AckAll) {
		return jetstore.DefaultAckWait
	}
	return cfg.AckWait
}
