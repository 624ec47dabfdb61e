package jetstore

import "fmt"

// APIError is a JetStream API error as clients receive it: an HTTP-like
// code, the JetStream error code clients match on, and the reference
// server's description (JETSTREAM.md §2). Store operations return these for
// every failure a client can cause, so the API layer sends them unchanged.
type APIError struct {
	Code        int    `json:"code"`
	ErrCode     uint16 `json:"err_code"`
	Description string `json:"description"`
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (%d/%d)", e.Description, e.Code, e.ErrCode)
}

// Is makes errors.Is match API errors by JetStream code, whatever the
// description's details.
func (e *APIError) Is(target error) bool {
	t, ok := target.(*APIError)
	return ok && t.ErrCode == e.ErrCode
}

func apiErr(code int, errCode uint16, format string, args ...any) *APIError {
	return &APIError{Code: code, ErrCode: errCode, Description: fmt.Sprintf(format, args...)}
}

// Errors with fixed texts; compare with errors.Is.
var (
	ErrStreamNotFound       = &APIError{404, 10059, "stream not found"}
	ErrConsumerNotFound     = &APIError{404, 10014, "consumer not found"}
	ErrStreamNameInUse      = &APIError{400, 10058, "stream name already in use with a different configuration"}
	ErrNoMessageFound       = &APIError{404, 10037, "no message found"}
	ErrSubjectsOverlap      = &APIError{400, 10065, "subjects overlap with an existing stream"}
	ErrReplicasNotSupported = &APIError{500, 10074, "replicas > 1 not supported in non-clustered mode"}
	ErrMessageTooLarge      = &APIError{400, 10054, "message size exceeds maximum allowed"}
	ErrBadRequest           = &APIError{400, 10003, "bad request"}
	ErrStreamNameMismatch   = &APIError{400, 10056, "stream name in subject does not match request"}
	ErrExpectedStream       = &APIError{400, 10060, "expected stream does not match"}
	ErrMaxMsgsExceeded      = &APIError{503, 10077, "maximum messages exceeded"}
	ErrMaxBytesExceeded     = &APIError{503, 10077, "maximum bytes exceeded"}
	ErrMaxMsgsPerSubject    = &APIError{503, 10077, "maximum messages per subject exceeded"}
	ErrRollupNotPermitted   = &APIError{500, 10111, "rollup not permitted"}
	ErrDeleteNotPermitted   = &APIError{500, 10057, "message delete not permitted"}
	ErrStoreEOF             = &APIError{500, 10057, "stream store EOF"}
	ErrPurgeNotPermitted    = &APIError{500, 10052, "stream purge not permitted"}
	ErrMsgTTLDisabled       = &APIError{400, 10166, "per-message TTL is disabled"}
	ErrJetStreamNotEnabled  = &APIError{503, 10076, "JetStream not enabled"}
	ErrMaxStreamsReached    = &APIError{400, 10027, "maximum number of streams reached"}
	ErrStreamSealed         = &APIError{400, 10109, "invalid operation on sealed stream"}
	ErrIngestQueueFull      = &APIError{503, 10077, "stream ingest queue is full, publish slower"}
	ErrStreamUnavailable    = &APIError{503, 10008, "JetStream stream is unavailable after a storage failure"}
)

// errWrongLastSeq reports the actual last sequence (of the stream or of the
// subject) an expected-sequence header did not match.
func errWrongLastSeq(actual uint64) *APIError {
	return apiErr(400, 10071, "wrong last sequence: %d", actual)
}

func errWrongLastMsgID(last string) *APIError {
	return apiErr(400, 10070, "wrong last msg ID: %s", last)
}

func errRollupInvalid(value string) *APIError {
	return apiErr(400, 10111, "rollup value invalid: %s", value)
}

// errStreamConfig reports an invalid stream configuration or update.
func errStreamConfig(format string, args ...any) *APIError {
	return apiErr(500, 10052, format, args...)
}

// errStorage wraps an I/O failure for a client.
func errStorage(err error) *APIError {
	return apiErr(503, 10077, "storage failure: %v", err)
}
