package jsapi

import (
	"errors"
	"fmt"

	"github.com/midgemq/midge/jetstore"
)

// apiError is a JetStream API error as clients receive it: an HTTP-like
// code, the JetStream error code clients match on, and a description in
// the reference server's words.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (%d/%d)", e.Description, e.Code, e.ErrCode)
}

// with fills a template entry of the table (one whose description has
// verbs) with the details of one failure.
func (e *apiError) with(args ...any) *apiError {
	return &apiError{Code: e.Code, ErrCode: e.ErrCode, Description: fmt.Sprintf(e.Description, args...)}
}

// The JetStream API error table: every error object clients can receive,
// by name, declared here and nowhere else. Entries whose description has
// verbs are templates, filled with with().
var (
	jsErrBadRequest              = &apiError{400, 10003, "bad request"}
	jsErrPurgeSeqAndKeep         = &apiError{400, 10003, "bad request: purge can not have both seq and keep"}
	jsErrBadPurgeFilter          = &apiError{400, 10003, "bad request: invalid purge filter"}
	jsErrStreamUnavailable       = &apiError{503, 10008, "JetStream stream is unavailable after a storage failure"}
	jsErrConsumerConfig          = &apiError{400, 10012, "%s"}
	jsErrConsumerNotFound        = &apiError{404, 10014, "consumer not found"}
	jsErrDurableNotInSubject     = &apiError{400, 10016, "consumer expected to be durable but no durable name set in subject"}
	jsErrDurableNameMismatch     = &apiError{400, 10017, "consumer name in subject does not match durable name in request"}
	jsErrConsumerNameMismatch    = &apiError{400, 10018, "consumer name in subject does not match name in request"}
	jsErrInvalidJSON             = &apiError{400, 10025, "invalid JSON: %v"}
	jsErrMaxConsumers            = &apiError{400, 10026, "maximum consumers limit reached"}
	jsErrMessageNotFound         = &apiError{404, 10037, "no message found"}
	jsErrNotEnabledForAccount    = &apiError{503, 10039, "JetStream not enabled for account"}
	jsErrUnknown                 = &apiError{500, 10049, "%v"}
	jsErrStreamCreate            = &apiError{500, 10049, "%s"}
	jsErrStreamConfig            = &apiError{500, 10052, "%s"}
	jsErrReservedSubject         = &apiError{500, 10052, "subjects that overlap with jetstream api require no-ack to be true"}
	jsErrPurgeNotPermitted       = &apiError{500, 10052, "stream purge not permitted"}
	jsErrMessageTooLarge         = &apiError{400, 10054, "message size exceeds maximum allowed"}
	jsErrStreamNameMismatch      = &apiError{400, 10056, "stream name in subject does not match request"}
	jsErrDeleteNotPermitted      = &apiError{500, 10057, "message delete not permitted"}
	jsErrStoreEOF                = &apiError{500, 10057, "stream store EOF"}
	jsErrStreamNameInUse         = &apiError{400, 10058, "stream name already in use with a different configuration"}
	jsErrStreamNotFound          = &apiError{404, 10059, "stream not found"}
	jsErrExpectedStream          = &apiError{400, 10060, "expected stream does not match"}
	jsErrSubjectsOverlap         = &apiError{400, 10065, "subjects overlap with an existing stream"}
	jsErrWrongLastMsgID          = &apiError{400, 10070, "wrong last msg ID: %s"}
	jsErrWrongLastSeq            = &apiError{400, 10071, "wrong last sequence: %d"}
	jsErrReplicasNotSupported    = &apiError{500, 10074, "replicas > 1 not supported in non-clustered mode"}
	jsErrMaxMsgs                 = &apiError{503, 10077, "maximum messages exceeded"}
	jsErrMaxBytes                = &apiError{503, 10077, "maximum bytes exceeded"}
	jsErrMaxMsgsPerSubject       = &apiError{503, 10077, "maximum messages per subject exceeded"}
	jsErrIngestQueueFull         = &apiError{503, 10077, "stream ingest queue is full, publish slower"}
	jsErrStorage                 = &apiError{503, 10077, "storage failure: %v"}
	jsErrPushWithMaxWaiting      = &apiError{400, 10080, "consumer in push mode can not set max waiting"}
	jsErrHeartbeatTooSmall       = &apiError{400, 10083, "consumer idle heartbeat needs to be >= 100ms"}
	jsErrWQRequiresExplicit      = &apiError{400, 10098, "workqueue stream requires explicit ack"}
	jsErrWQMultipleUnfiltered    = &apiError{400, 10099, "multiple non-filtered consumers not allowed on workqueue stream"}
	jsErrWQNotUnique             = &apiError{400, 10100, "filtered consumer not unique on workqueue stream"}
	jsErrWQNotDeliverAll         = &apiError{400, 10101, "consumer must be deliver all on workqueue stream"}
	jsErrFlowControlNeedsHB      = &apiError{400, 10108, "consumer with flow control also needs heartbeats"}
	jsErrStreamSealed            = &apiError{400, 10109, "invalid operation on sealed stream"}
	jsErrRollupNotPermitted      = &apiError{500, 10111, "rollup not permitted"}
	jsErrRollupInvalid           = &apiError{400, 10111, "rollup value invalid: %s"}
	jsErrMaxAckPendingExcess     = &apiError{400, 10121, "consumer max ack pending exceeds system limit of %d"}
	jsErrFilterMismatch          = &apiError{400, 10131, "Consumer create request did not match filtered subject from create subject"}
	jsErrReplicasNegative        = &apiError{400, 10133, "replicas count cannot be negative"}
	jsErrMultipleFilters         = &apiError{400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"}
	jsErrFiltersBySubject        = &apiError{400, 10137, "consumer with multiple subject filters cannot use subject based API"}
	jsErrOverlappingFilters      = &apiError{400, 10138, "consumer subject filters cannot overlap"}
	jsErrEmptyFilter             = &apiError{400, 10139, "consumer filter in FilterSubjects cannot be empty"}
	jsErrConsumerExists          = &apiError{400, 10148, "consumer already exists"}
	jsErrConsumerDoesNotExist    = &apiError{400, 10149, "consumer does not exist"}
	jsErrInactiveThresholdExcess = &apiError{400, 10153, "consumer inactive threshold exceeds system limit of %v"}
	jsErrPedantic                = &apiError{400, 10157, "pedantic mode: %s"}
	jsErrMsgTTLDisabled          = &apiError{400, 10166, "per-message TTL is disabled"}

	// Configuration ranges, as the reference server words them.
	jsErrDeliverWildcards    = &apiError{400, 10079, "consumer deliver subject has wildcards"}
	jsErrDeliverCycle        = &apiError{400, 10081, "consumer deliver subject forms a cycle"}
	jsErrMaxPendingNeedsAck  = &apiError{400, 10082, "consumer requires ack policy for max ack pending"}
	jsErrPullRequiresAckWQ   = &apiError{400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream"}
	jsErrPullWithRateLimit   = &apiError{400, 10086, "consumer in pull mode can not have rate limit set"}
	jsErrMaxWaitingNegative  = &apiError{400, 10087, "consumer max waiting needs to be positive"}
	jsErrPullWithHeartbeat   = &apiError{400, 10088, "consumer idle heartbeat requires a push based consumer"}
	jsErrPullWithFlowControl = &apiError{400, 10089, "consumer flow control requires a push based consumer"}
	jsErrInvalidPolicy       = &apiError{400, 10094, "%s"}
	jsErrInvalidSampling     = &apiError{400, 10095, "%s"}
	jsErrDescriptionTooLong  = &apiError{400, 10107, "consumer description is too long, maximum allowed is 4096"}
	jsErrMaxBatchNegative    = &apiError{400, 10114, "consumer max request batch needs to be > 0"}
	jsErrMaxExpiresTooSmall  = &apiError{400, 10115, "consumer max request expires needs to be >= 1ms"}
	jsErrMaxDeliverBackOff   = &apiError{400, 10116, "max deliver is required to be > length of backoff values"}
	jsErrMetadataTooLarge    = &apiError{400, 10135, "consumer metadata exceeds maximum size of 128KB"}
	jsErrAckWaitNegative     = &apiError{400, 10183, "consumer ack wait needs to be positive"}
	jsErrBackOffNotPositive  = &apiError{400, 10184, "consumer backoff needs to be positive"}

	// Storage limits of accounts and of the server.
	jsErrAccountResources      = &apiError{400, 10002, "resource limits exceeded for account"}
	jsErrInsufficientResources = &apiError{503, 10023, "insufficient resources"}
	jsErrMaxStreams            = &apiError{400, 10027, "maximum number of streams reached"}
	jsErrInsufficientMemory    = &apiError{500, 10028, "insufficient memory resources available"}
	jsErrInsufficientStorage   = &apiError{500, 10047, "insufficient storage resources available"}
	jsErrMaxBytesRequired      = &apiError{400, 10113, "account requires a stream config to have max bytes set"}
	jsErrStreamMaxBytes        = &apiError{400, 10122, "stream max bytes exceeds account limit max stream bytes"}
	// Stream features: mirrors, sources, transforms, TTLs, counters, batches.
	jsErrMirrorSetup               = &apiError{500, 10029, "%s"}
	jsErrSourceSetup               = &apiError{500, 10045, "%s"}
	jsErrMirrorWithSources         = &apiError{400, 10031, "stream mirrors can not also contain other sources"}
	jsErrMirrorWithStartSeqAndTime = &apiError{400, 10032, "stream mirrors can not have both start seq and start time configured"}
	jsErrMirrorWithSubjects        = &apiError{400, 10034, "stream mirrors can not contain subjects"}
	jsErrMirrorWithFirstSeq        = &apiError{400, 10143, "stream mirrors can not have first sequence configured"}
	jsErrMirrorNotUpdatable        = &apiError{400, 10055, "stream mirror configuration can not be updated"}
	jsErrSourceDuplicate           = &apiError{400, 10140, "duplicate source configuration detected"}
	jsErrSourceInvalidStreamName   = &apiError{400, 10141, "sourced stream name is invalid"}
	jsErrMirrorInvalidStreamName   = &apiError{400, 10142, "mirrored stream name is invalid"}
	jsErrSourceMultipleFilters     = &apiError{400, 10144, "source with multiple subject transforms cannot also have a single subject filter"}
	jsErrSourceTransformSource     = &apiError{400, 10145, "source transform source: %v"}
	jsErrSourceTransform           = &apiError{400, 10146, "source transform: %v"}
	jsErrSourceOverlappingFilters  = &apiError{400, 10147, "source filters can not overlap"}
	jsErrMirrorMultipleFilters     = &apiError{400, 10150, "mirror with multiple subject transforms cannot also have a single subject filter"}
	jsErrMirrorTransformSource     = &apiError{400, 10151, "mirror transform source: %v"}
	jsErrMirrorOverlappingFilters  = &apiError{400, 10152, "mirror subject filters can not overlap"}
	jsErrMirrorTransform           = &apiError{400, 10154, "mirror transform: %v"}
	jsErrStreamTransformSource     = &apiError{400, 10155, "stream transform source: %v"}
	jsErrStreamTransform           = &apiError{400, 10156, "stream transform: %v"}
	jsErrMsgTTLInvalid             = &apiError{400, 10165, "invalid per-message TTL"}
	jsErrIncrDisabled              = &apiError{400, 10168, "message counters is disabled"}
	jsErrIncrMissing               = &apiError{400, 10169, "message counter increment is missing"}
	jsErrIncrPayload               = &apiError{400, 10170, "message counter has payload"}
	jsErrIncrInvalid               = &apiError{400, 10171, "message counter increment is invalid"}
	jsErrCounterBroken             = &apiError{400, 10172, "message counter is broken"}
	jsErrMirrorWithCounters        = &apiError{400, 10173, "stream mirrors can not also calculate counters"}
	jsErrMirrorWithAtomicPublish   = &apiError{400, 10198, "stream mirrors can not also use atomic publishing"}
	jsErrSourceHeaderNotAllowed    = &apiError{400, 10227, "message stream source header is not allowed"}
	jsErrMirrorDirectPublish       = &apiError{400, 10034, "stream mirrors can not be published to directly"}
	jsErrPriorityPolicyNoGroup     = &apiError{400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"}
	jsErrInvalidPriorityGroup      = &apiError{400, 10160, "Provided priority group does not exist for this consumer"}
	jsErrEmptyGroupName            = &apiError{400, 10161, "Group name cannot be an empty string"}
	jsErrInvalidGroupName          = &apiError{400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"}
	jsErrPushWithPriorityGroup     = &apiError{400, 10178, "priority groups can not be used with push consumers"}
	jsErrPriorityGroupWithoutPol   = &apiError{400, 10196, "consumer can not have priority groups when policy is none"}
	jsErrPinnedTimeoutWithoutPol   = &apiError{400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none"}
	jsErrBatchDisabled             = &apiError{400, 10174, "atomic publish is disabled"}
	jsErrBatchMissingSeq           = &apiError{400, 10175, "atomic publish sequence is missing"}
	jsErrBatchIncomplete           = &apiError{400, 10176, "atomic publish batch is incomplete"}
	jsErrBatchUnsupported          = &apiError{400, 10177, "atomic publish unsupported header used: %s"}
	jsErrBatchInvalidID            = &apiError{400, 10179, "atomic publish batch ID is invalid"}
	jsErrBatchTooLarge             = &apiError{400, 10199, "atomic publish batch is too large: %d"}
	jsErrBatchInvalidCommt         = &apiError{400, 10200, "atomic publish batch commit is invalid"}
	jsErrBatchDuplicateID          = &apiError{400, 10201, "atomic publish batch contains duplicate message id"}
	jsErrBatchTooMany              = &apiError{429, 10210, "atomic publish too many inflight"}
)

// storeErrors maps the store's sentinel errors onto the table.
var storeErrors = map[error]*apiError{
	jetstore.ErrStreamNotFound:        jsErrStreamNotFound,
	jetstore.ErrReservedSubject:       jsErrReservedSubject,
	jetstore.ErrStreamNameInUse:       jsErrStreamNameInUse,
	jetstore.ErrSubjectsOverlap:       jsErrSubjectsOverlap,
	jetstore.ErrReplicasNotSupported:  jsErrReplicasNotSupported,
	jetstore.ErrNoMessageFound:        jsErrMessageNotFound,
	jetstore.ErrStoreEOF:              jsErrStoreEOF,
	jetstore.ErrDeleteNotPermitted:    jsErrDeleteNotPermitted,
	jetstore.ErrPurgeNotPermitted:     jsErrPurgeNotPermitted,
	jetstore.ErrPurgeSeqAndKeep:       jsErrPurgeSeqAndKeep,
	jetstore.ErrStreamSealed:          jsErrStreamSealed,
	jetstore.ErrStreamUnavailable:     jsErrStreamUnavailable,
	jetstore.ErrIngestQueueFull:       jsErrIngestQueueFull,
	jetstore.ErrExpectedStream:        jsErrExpectedStream,
	jetstore.ErrMalformedExpectation:  jsErrBadRequest,
	jetstore.ErrMsgTTLDisabled:        jsErrMsgTTLDisabled,
	jetstore.ErrMessageTooLarge:       jsErrMessageTooLarge,
	jetstore.ErrMaxMsgsExceeded:       jsErrMaxMsgs,
	jetstore.ErrMaxBytesExceeded:      jsErrMaxBytes,
	jetstore.ErrMaxMsgsPerSubject:     jsErrMaxMsgsPerSubject,
	jetstore.ErrRollupNotPermitted:    jsErrRollupNotPermitted,
	jetstore.ErrConsumerNotFound:      jsErrConsumerNotFound,
	jetstore.ErrConsumerExists:        jsErrConsumerExists,
	jetstore.ErrConsumerDoesNotExist:  jsErrConsumerDoesNotExist,
	jetstore.ErrMaxConsumers:          jsErrMaxConsumers,
	jetstore.ErrMultipleFilters:       jsErrMultipleFilters,
	jetstore.ErrOverlappingFilters:    jsErrOverlappingFilters,
	jetstore.ErrEmptyFilter:           jsErrEmptyFilter,
	jetstore.ErrWQRequiresExplicitAck: jsErrWQRequiresExplicit,
	jetstore.ErrWQMultipleUnfiltered:  jsErrWQMultipleUnfiltered,
	jetstore.ErrWQNotUnique:           jsErrWQNotUnique,
	jetstore.ErrWQNotDeliverAll:       jsErrWQNotDeliverAll,
	jetstore.ErrFlowControlNeedsHB:    jsErrFlowControlNeedsHB,
	jetstore.ErrHeartbeatTooSmall:     jsErrHeartbeatTooSmall,
	jetstore.ErrPushWithMaxWaiting:    jsErrPushWithMaxWaiting,
	jetstore.ErrDeliverWildcards:      jsErrDeliverWildcards,
	jetstore.ErrDeliverSubjectCycles:  jsErrDeliverCycle,
	jetstore.ErrMaxPendingNeedsAck:    jsErrMaxPendingNeedsAck,
	jetstore.ErrPullRequiresAckOnWQ:   jsErrPullRequiresAckWQ,
	jetstore.ErrPullWithRateLimit:     jsErrPullWithRateLimit,
	jetstore.ErrMaxWaitingNegative:    jsErrMaxWaitingNegative,
	jetstore.ErrPullWithHeartbeat:     jsErrPullWithHeartbeat,
	jetstore.ErrPullWithFlowControl:   jsErrPullWithFlowControl,
	jetstore.ErrDescriptionTooLong:    jsErrDescriptionTooLong,
	jetstore.ErrMaxBatchNegative:      jsErrMaxBatchNegative,
	jetstore.ErrMaxExpiresTooSmall:    jsErrMaxExpiresTooSmall,
	jetstore.ErrMaxDeliverBackOff:     jsErrMaxDeliverBackOff,
	jetstore.ErrReplicasNegative:      jsErrReplicasNegative,
	jetstore.ErrMetadataTooLarge:      jsErrMetadataTooLarge,
	jetstore.ErrAckWaitNegative:       jsErrAckWaitNegative,
	jetstore.ErrBackOffNotPositive:    jsErrBackOffNotPositive,
	jetstore.ErrAccountResources:      jsErrAccountResources,
	jetstore.ErrInsufficientResources: jsErrInsufficientResources,
	jetstore.ErrMaxStreams:            jsErrMaxStreams,
	jetstore.ErrInsufficientMemory:    jsErrInsufficientMemory,
	jetstore.ErrInsufficientStorage:   jsErrInsufficientStorage,
	jetstore.ErrMaxBytesRequired:      jsErrMaxBytesRequired,
	jetstore.ErrStreamMaxBytes:        jsErrStreamMaxBytes,

	jetstore.ErrMirrorWithSources:         jsErrMirrorWithSources,
	jetstore.ErrMirrorWithStartSeqAndTime: jsErrMirrorWithStartSeqAndTime,
	jetstore.ErrMirrorWithSubjects:        jsErrMirrorWithSubjects,
	jetstore.ErrMirrorWithFirstSeq:        jsErrMirrorWithFirstSeq,
	jetstore.ErrMirrorNotUpdatable:        jsErrMirrorNotUpdatable,
	jetstore.ErrSourceDuplicate:           jsErrSourceDuplicate,
	jetstore.ErrSourceInvalidStreamName:   jsErrSourceInvalidStreamName,
	jetstore.ErrMirrorInvalidStreamName:   jsErrMirrorInvalidStreamName,
	jetstore.ErrSourceMultipleFilters:     jsErrSourceMultipleFilters,
	jetstore.ErrSourceOverlappingFilters:  jsErrSourceOverlappingFilters,
	jetstore.ErrMirrorMultipleFilters:     jsErrMirrorMultipleFilters,
	jetstore.ErrMirrorOverlappingFilters:  jsErrMirrorOverlappingFilters,
	jetstore.ErrMirrorWithCounters:        jsErrMirrorWithCounters,
	jetstore.ErrMirrorWithAtomicPublish:   jsErrMirrorWithAtomicPublish,
	jetstore.ErrMsgTTLInvalid:             jsErrMsgTTLInvalid,
	jetstore.ErrIncrDisabled:              jsErrIncrDisabled,
	jetstore.ErrIncrMissing:               jsErrIncrMissing,
	jetstore.ErrIncrPayload:               jsErrIncrPayload,
	jetstore.ErrIncrInvalid:               jsErrIncrInvalid,
	jetstore.ErrCounterBroken:             jsErrCounterBroken,
	jetstore.ErrPriorityPolicyNoGroup:     jsErrPriorityPolicyNoGroup,
	jetstore.ErrInvalidPriorityGroup:      jsErrInvalidPriorityGroup,
	jetstore.ErrEmptyGroupName:            jsErrEmptyGroupName,
	jetstore.ErrInvalidGroupName:          jsErrInvalidGroupName,
	jetstore.ErrPushWithPriorityGroup:     jsErrPushWithPriorityGroup,
	jetstore.ErrPriorityGroupWithoutPol:   jsErrPriorityGroupWithoutPol,
	jetstore.ErrPinnedTimeoutWithoutPol:   jsErrPinnedTimeoutWithoutPol,
	jetstore.ErrInvalidPriorityPolicy:     jsErrInvalidJSON.with("unknown priority policy"),
	jetstore.ErrSourceHeaderNotAllowed:    jsErrSourceHeaderNotAllowed,
	jetstore.ErrMirrorDirectPublish:       jsErrMirrorDirectPublish,
	jetstore.ErrBatchDuplicateMsgID:       jsErrBatchDuplicateID,
}

// transformErrors are the entries for an invalid transform, by whose it
// is and whether its source (or filter) is at fault.
var transformErrors = map[jetstore.TransformOf][2]*apiError{
	jetstore.TransformOfStream: {jsErrStreamTransform, jsErrStreamTransformSource},
	jetstore.TransformOfMirror: {jsErrMirrorTransform, jsErrMirrorTransformSource},
	jetstore.TransformOfSource: {jsErrSourceTransform, jsErrSourceTransformSource},
}

// toAPIError converts any failure into the error object clients get: an
// entry of the table, or, for a failure the table does not know, its text
// under the generic code.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ae, ok := storeErrors[e]; ok {
			return ae
		}
	}
	var (
		streamCfg   *jetstore.StreamConfigError
		consumerCfg *jetstore.ConsumerConfigError
		lastSeq     *jetstore.WrongLastSeqError
		lastID      *jetstore.WrongLastMsgIDError
		rollup      *jetstore.InvalidRollupError
		storage     *jetstore.StorageError
		existing    *jetstore.ExistingDataError
		policy      *jetstore.InvalidPolicyError
		sampling    *jetstore.SamplingError
		ackPending  *jetstore.MaxAckPendingError
		tr          *jetstore.TransformError
		batchOpt    *jetstore.BatchUnsupportedError
	)
	switch {
	case errors.As(err, &batchOpt):
		return jsErrBatchUnsupported.with(batchOpt.Option)
	case errors.As(err, &tr):
		pair := transformErrors[tr.Of]
		if tr.Source {
			return pair[1].with(tr.Err)
		}
		return pair[0].with(tr.Err)
	case errors.As(err, &streamCfg):
		return jsErrStreamConfig.with(streamCfg.Reason)
	case errors.As(err, &consumerCfg):
		return jsErrConsumerConfig.with(consumerCfg.Reason)
	case errors.As(err, &lastSeq):
		return jsErrWrongLastSeq.with(lastSeq.Last)
	case errors.As(err, &lastID):
		return jsErrWrongLastMsgID.with(lastID.Last)
	case errors.As(err, &rollup):
		return jsErrRollupInvalid.with(rollup.Value)
	case errors.As(err, &policy):
		return jsErrInvalidPolicy.with(policy.Reason)
	case errors.As(err, &ackPending):
		return jsErrMaxAckPendingExcess.with(ackPending.Limit)
	case errors.As(err, &sampling):
		return jsErrInvalidSampling.with(sampling.Error())
	case errors.As(err, &existing):
		return jsErrStreamCreate.with(existing.Error())
	case errors.As(err, &storage):
		return jsErrStorage.with(clientReason(storage.Err))
	}
	return jsErrUnknown.with(clientReason(err))
}
