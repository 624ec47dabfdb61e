package jetstore

import (
	"errors"
	"fmt"
)

// Errors are values. A failure the caller or a client can cause is either a
// sentinel (compare with errors.Is; it may come wrapped with context) or a
// type carrying the facts needed to explain it (errors.As). The store says
// nothing about how a failure is shown to clients: the API layer maps these
// onto its own error codes and texts.

// Stream errors.
var (
	ErrStreamNotFound = errors.New("stream not found")
	// ErrReservedSubject: the configuration captures one of the store's
	// Options.ReservedSubjects without NoAck.
	ErrReservedSubject      = errors.New("subject is reserved; a stream may capture it only without acks")
	ErrStreamNameInUse      = errors.New("stream name already in use with a different configuration")
	ErrSubjectsOverlap      = errors.New("subjects overlap with an existing stream")
	ErrReplicasNotSupported = errors.New("replicas > 1 not supported without clustering")
	ErrNoMessageFound       = errors.New("no message found")
	// ErrStoreEOF: a delete named a sequence the stream does not hold.
	ErrStoreEOF           = errors.New("sequence not in the stream")
	ErrDeleteNotPermitted = errors.New("message delete not permitted")
	ErrPurgeNotPermitted  = errors.New("stream purge not permitted")
	ErrPurgeSeqAndKeep    = errors.New("purge can not have both seq and keep")
	ErrStreamSealed       = errors.New("invalid operation on sealed stream")
	// ErrStreamUnavailable: the stream is refusing changes after a storage
	// failure until it can be reopened from what is on disk.
	ErrStreamUnavailable = errors.New("stream is unavailable after a storage failure")
	ErrIngestQueueFull   = errors.New("stream ingest queue is full, publish slower")
	errStoreClosed       = errors.New("jetstore: store closed")
)

// Publish errors: why a message was refused.
var (
	ErrExpectedStream = errors.New("expected stream does not match")
	// ErrMalformedExpectation: an expected sequence the publisher sent was
	// not a number (see SeqExpectation).
	ErrMalformedExpectation = errors.New("expected sequence is not a number")
	ErrMsgTTLDisabled       = errors.New("per-message TTL is disabled")
	ErrMessageTooLarge      = errors.New("message size exceeds maximum allowed")
	ErrMaxMsgsExceeded      = errors.New("maximum messages exceeded")
	ErrMaxBytesExceeded     = errors.New("maximum bytes exceeded")
	ErrMaxMsgsPerSubject    = errors.New("maximum messages per subject exceeded")
	ErrRollupNotPermitted   = errors.New("rollup not permitted")
)

// Consumer errors.
var (
	ErrConsumerNotFound      = errors.New("consumer not found")
	ErrConsumerExists        = errors.New("consumer already exists")
	ErrConsumerDoesNotExist  = errors.New("consumer does not exist")
	ErrMaxConsumers          = errors.New("maximum consumers limit reached")
	ErrMultipleFilters       = errors.New("consumer cannot have both FilterSubject and FilterSubjects specified")
	ErrOverlappingFilters    = errors.New("consumer subject filters cannot overlap")
	ErrEmptyFilter           = errors.New("consumer filter in FilterSubjects cannot be empty")
	ErrWQRequiresExplicitAck = errors.New("workqueue stream requires explicit ack")
	ErrWQMultipleUnfiltered  = errors.New("multiple non-filtered consumers not allowed on workqueue stream")
	ErrWQNotUnique           = errors.New("filtered consumer not unique on workqueue stream")
	ErrWQNotDeliverAll       = errors.New("consumer must be deliver all on workqueue stream")
	ErrFlowControlNeedsHB    = errors.New("consumer with flow control also needs heartbeats")
	ErrHeartbeatTooSmall     = errors.New("consumer idle heartbeat needs to be >= 100ms")
	ErrPushWithMaxWaiting    = errors.New("consumer in push mode can not set max waiting")
)

// StreamConfigError is an invalid stream configuration or update; Reason
// says what is wrong.
type StreamConfigError struct{ Reason string }

func (e *StreamConfigError) Error() string { return e.Reason }

func errStreamConfig(format string, args ...any) error {
	return &StreamConfigError{Reason: fmt.Sprintf(format, args...)}
}

// ConsumerConfigError is an invalid consumer configuration or update.
type ConsumerConfigError struct{ Reason string }

func (e *ConsumerConfigError) Error() string { return e.Reason }

func errConsumerConfig(format string, args ...any) error {
	return &ConsumerConfigError{Reason: fmt.Sprintf(format, args...)}
}

// WrongLastSeqError refuses a publish whose expected last sequence (of the
// stream, or of a subject) is not the actual one, Last.
type WrongLastSeqError struct{ Last uint64 }

func (e *WrongLastSeqError) Error() string { return fmt.Sprintf("wrong last sequence: %d", e.Last) }

// WrongLastMsgIDError refuses a publish whose expected last message id is
// not the id of the stream's newest message that had one, Last.
type WrongLastMsgIDError struct{ Last string }

func (e *WrongLastMsgIDError) Error() string { return "wrong last msg ID: " + e.Last }

// InvalidRollupError refuses a publish asking for a rollup that is neither
// of a subject nor of the whole stream; Value is what it asked for.
type InvalidRollupError struct{ Value string }

func (e *InvalidRollupError) Error() string { return "rollup value invalid: " + e.Value }

// StorageError is a failed read, write or sync of the store's files.
type StorageError struct{ Err error }

func (e *StorageError) Error() string { return "storage failure: " + e.Err.Error() }
func (e *StorageError) Unwrap() error { return e.Err }

// errStorage wraps an I/O failure; a stream already known to be unusable
// is reported as that.
func errStorage(err error) error {
	var se *StorageError
	if errors.As(err, &se) || errors.Is(err, ErrStreamUnavailable) {
		return err
	}
	return &StorageError{Err: err}
}
