package jetstore

import "errors"

// Errors of the stream features beyond storing what is published (mirrors,
// sources, transforms, TTLs, counters, batches). As in errors.go, the API
// layer maps them onto its own codes.

// Mirror and source configuration errors.
var (
	ErrMirrorWithSubjects        = errors.New("stream mirrors can not contain subjects")
	ErrMirrorWithSources         = errors.New("stream mirrors can not also contain other sources")
	ErrMirrorWithFirstSeq        = errors.New("stream mirrors can not have first sequence configured")
	ErrMirrorWithStartSeqAndTime = errors.New("stream mirrors can not have both start seq and start time configured")
	ErrMirrorWithCounters        = errors.New("stream mirrors can not also calculate counters")
	ErrMirrorWithAtomicPublish   = errors.New("stream mirrors can not also use atomic publishing")
	ErrMirrorMultipleFilters     = errors.New("mirror with multiple subject transforms cannot also have a single subject filter")
	ErrMirrorOverlappingFilters  = errors.New("mirror subject filters can not overlap")
	ErrMirrorInvalidStreamName   = errors.New("mirrored stream name is invalid")
	ErrMirrorNotUpdatable        = errors.New("stream mirror configuration can not be updated")
	ErrSourceInvalidStreamName   = errors.New("sourced stream name is invalid")
	ErrSourceDuplicate           = errors.New("duplicate source configuration detected")
	ErrSourceMultipleFilters     = errors.New("source with multiple subject transforms cannot also have a single subject filter")
	ErrSourceOverlappingFilters  = errors.New("source filters can not overlap")
)

// ErrSourceHeaderNotAllowed: only copied messages may carry the header
// that says where they were copied from.
var ErrSourceHeaderNotAllowed = errors.New("message stream source header is not allowed")

// ErrMsgTTLInvalid: a TTL that is neither "never" nor at least a second.
var ErrMsgTTLInvalid = errors.New("invalid per-message TTL")

// TransformOf says whose subject transform a TransformError is about.
type TransformOf uint8

const (
	TransformOfStream TransformOf = iota
	TransformOfMirror
	TransformOfSource
)

// TransformError is an invalid subject transform of a stream, its mirror
// or one of its sources. Source is true when the transform's source (or
// filter) subject is at fault, false for its destination.
type TransformError struct {
	Of     TransformOf
	Source bool
	Err    error
}

func (e *TransformError) Error() string {
	what := [...]string{"stream", "mirror", "source"}[e.Of] + " transform"
	if e.Source {
		what += " source"
	}
	return what + ": " + e.Err.Error()
}

func (e *TransformError) Unwrap() error { return e.Err }
