package jetstore

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/midgemq/midge/sublist"
	"github.com/midgemq/midge/transform"
)

// The configuration of the stream features beyond storing what is
// published: copying other streams (mirror, sources), changing subjects on
// the way in (subject transform) and out (republish), per-message TTLs and
// subject delete markers, counters and atomic batches.

// StreamSource names a stream another stream copies: all of it as a
// mirror, or (filtered, transformed) as one of several sources.
type StreamSource struct {
	Name              string                   `json:"name"`
	OptStartSeq       uint64                   `json:"opt_start_seq,omitempty"`
	OptStartTime      *time.Time               `json:"opt_start_time,omitempty"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
	External          *ExternalStream          `json:"external,omitempty"`
}

// ExternalStream places a source in another account (or domain): API is
// the prefix under which that account's JetStream API is imported.
type ExternalStream struct {
	APIPrefix     string `json:"api"`
	DeliverPrefix string `json:"deliver"`
}

// SubjectTransformConfig maps subjects matching Source onto Destination
// (see package transform).
type SubjectTransformConfig struct {
	Source      string `json:"src"`
	Destination string `json:"dest"`
}

// RePublish publishes every stored message whose subject matches Source
// again on Destination (transformed), once it is durable.
type RePublish struct {
	Source      string `json:"src,omitempty"`
	Destination string `json:"dest"`
	HeadersOnly bool   `json:"headers_only,omitempty"`
}

// Key identifies a source among a stream's sources, and its messages in
// the stream: the stream name (with the hash of an external API prefix),
// the filter and the transform destination(s), as the reference server
// builds its index names, so that the same source configured twice is
// detected and sourced messages can be traced to their source.
func (s *StreamSource) Key() string {
	name := s.Name
	if s.External != nil && s.External.APIPrefix != "" {
		name += ":" + shortHash(s.External.APIPrefix)
	}
	src, dest := s.FilterSubject, ">"
	if src == "" {
		src = ">"
	}
	if len(s.SubjectTransforms) > 0 {
		var srcs, dests []string
		for _, t := range s.SubjectTransforms {
			srcs = append(srcs, orAll(t.Source))
			dests = append(dests, orAll(t.Destination))
		}
		src, dest = strings.Join(srcs, "\f"), strings.Join(dests, "\f")
	}
	return name + " " + src + " " + dest
}

func orAll(s string) string {
	if s == "" {
		return ">"
	}
	return s
}

// filters are the origin subjects a source copies (none: all).
func (s *StreamSource) filters() []string {
	if s.FilterSubject != "" {
		return []string{s.FilterSubject}
	}
	var out []string
	for _, t := range s.SubjectTransforms {
		if t.Source == "" || t.Source == ">" {
			return nil
		}
		out = append(out, t.Source)
	}
	return out
}

// transforms compiles the source's subject transforms (validated).
func (s *StreamSource) transforms() []*transform.Transform {
	var out []*transform.Transform
	for _, t := range s.SubjectTransforms {
		if tr, err := transform.New(t.Source, t.Destination); err == nil {
			out = append(out, tr)
		}
	}
	return out
}

// checkFeatures validates the feature settings (and fills what they
// imply) in the reference server's order of checks.
func (c *StreamConfig) checkFeatures() error {
	if c.AllowMsgSchedules {
		return errStreamConfig("message schedules (allow_msg_schedules) are not supported by midge yet")
	}
	if c.SubjectDeleteMarkerTTL < 0 {
		return errStreamConfig("subject delete marker TTL must not be negative")
	}
	if c.SubjectDeleteMarkerTTL > 0 {
		if c.SubjectDeleteMarkerTTL < time.Second {
			return errStreamConfig("subject delete marker TTL must be at least 1 second")
		}
		c.AllowMsgTTL = true
		c.AllowRollup, c.DenyPurge = true, false
	}
	if c.AllowMsgCounter {
		switch {
		case c.Discard == DiscardNew:
			return errStreamConfig("counter stream cannot use discard new")
		case c.AllowMsgTTL:
			return errStreamConfig("counter stream cannot use message TTLs")
		case c.Retention != "" && c.Retention != RetentionLimits:
			return errStreamConfig("counter stream can only use limits retention")
		}
	}
	if c.Mirror != nil {
		if err := c.checkMirror(); err != nil {
			return err
		}
	}
	if err := c.checkSources(); err != nil {
		return err
	}
	if t := c.SubjectTransform; t != nil {
		if t.Source != "" && !sublist.ValidSubject(t.Source) {
			return &TransformError{Of: TransformOfStream, Source: true, Err: fmt.Errorf("invalid subject %s", t.Source)}
		}
		if err := transform.Validate(t.Source, t.Destination); err != nil {
			return &TransformError{Of: TransformOfStream, Err: err}
		}
	}
	if c.RePublish != nil {
		r := *c.RePublish // the caller's copy stays as it was
		c.RePublish = &r
		if r.Source == "" {
			r.Source = ">"
		}
		if r.Destination == ">" && r.Source == ">" && c.SubjectTransform != nil &&
			len(c.Subjects) == 1 && c.SubjectTransform.Source == c.Subjects[0] {
			// Republish what the transform makes of the stream's subject.
			r.Source, r.Destination = c.SubjectTransform.Destination, c.SubjectTransform.Destination
		}
		for _, s := range c.Subjects {
			if sublist.SubjectsCollide(r.Destination, s) {
				return errStreamConfig("stream configuration for republish destination forms a cycle")
			}
		}
		if err := transform.Validate(r.Source, r.Destination); err != nil {
			return errStreamConfig("stream configuration for republish with transform from '%s' to '%s' not valid", r.Source, r.Destination)
		}
	}
	return nil
}

func (c *StreamConfig) checkMirror() error {
	m := c.Mirror
	switch {
	case c.FirstSeq > 0:
		return ErrMirrorWithFirstSeq
	case len(c.Subjects) > 0:
		return ErrMirrorWithSubjects
	case len(c.Sources) > 0:
		return ErrMirrorWithSources
	case c.AllowMsgCounter:
		return ErrMirrorWithCounters
	case c.AllowAtomicPublish:
		return ErrMirrorWithAtomicPublish
	case m.FilterSubject != "" && len(m.SubjectTransforms) > 0:
		return ErrMirrorMultipleFilters
	case m.OptStartSeq > 0 && m.OptStartTime != nil:
		return ErrMirrorWithStartSeqAndTime
	case c.SubjectDeleteMarkerTTL > 0:
		return errStreamConfig("subject delete markers forbidden on mirrors")
	case !ValidName(m.Name):
		return ErrMirrorInvalidStreamName
	}
	if m.FilterSubject != "" && !sublist.ValidSubject(m.FilterSubject) {
		return &TransformError{Of: TransformOfMirror, Source: true, Err: fmt.Errorf("invalid subject %s", m.FilterSubject)}
	}
	for i, t := range m.SubjectTransforms {
		if t.Source != "" && !sublist.ValidSubject(t.Source) {
			return &TransformError{Of: TransformOfMirror, Source: true, Err: fmt.Errorf("invalid subject %s", t.Source)}
		}
		if err := transform.Validate(t.Source, t.Destination); err != nil {
			return &TransformError{Of: TransformOfMirror, Err: err}
		}
		for j, u := range m.SubjectTransforms {
			if i != j && sublist.SubjectsCollide(orAll(t.Source), orAll(u.Source)) {
				return ErrMirrorOverlappingFilters
			}
		}
	}
	return checkExternal(m.External)
}

func (c *StreamConfig) checkSources() error {
	keys := make(map[string]bool, len(c.Sources))
	for _, s := range c.Sources {
		if s == nil || !ValidName(s.Name) {
			return ErrSourceInvalidStreamName
		}
		if keys[s.Key()] {
			return ErrSourceDuplicate
		}
		keys[s.Key()] = true
		if s.FilterSubject != "" && len(s.SubjectTransforms) > 0 {
			return ErrSourceMultipleFilters
		}
		if s.FilterSubject != "" && !sublist.ValidSubject(s.FilterSubject) {
			return &TransformError{Of: TransformOfSource, Source: true, Err: fmt.Errorf("invalid subject %s", s.FilterSubject)}
		}
		for i, t := range s.SubjectTransforms {
			if t.Source != "" && !sublist.ValidSubject(t.Source) {
				return &TransformError{Of: TransformOfSource, Source: true, Err: fmt.Errorf("invalid subject %s", t.Source)}
			}
			if err := transform.Validate(t.Source, t.Destination); err != nil {
				return &TransformError{Of: TransformOfSource, Err: err}
			}
			for j, u := range s.SubjectTransforms {
				if i != j && sublist.SubjectsCollide(orAll(t.Source), orAll(u.Source)) {
					return ErrSourceOverlappingFilters
				}
			}
		}
		if err := checkExternal(s.External); err != nil {
			return err
		}
	}
	return nil
}

func checkExternal(e *ExternalStream) error {
	if e == nil {
		return nil
	}
	if e.APIPrefix != "" {
		if !sublist.ValidLiteralSubject(e.APIPrefix) {
			return errStreamConfig("stream external api prefix %q must be a valid subject without wildcards", e.APIPrefix)
		}
		if sublist.SubjectsCollide(e.APIPrefix+".>", "$JS.API.>") {
			return errStreamConfig("stream external api prefix %q must not overlap with %s", e.APIPrefix, "$JS.API")
		}
	}
	if e.DeliverPrefix != "" && !sublist.ValidLiteralSubject(e.DeliverPrefix) {
		return errStreamConfig("stream external delivery prefix %q must be a valid subject without wildcards", e.DeliverPrefix)
	}
	return nil
}

// checkMirrorUpdate refuses changing what a mirror copies, or turning a
// stream into a mirror; removing the mirror promotes it to a normal stream.
func (c *StreamConfig) checkMirrorUpdate(next *StreamConfig) error {
	if next.Mirror == nil {
		return nil
	}
	if c.Mirror == nil || c.Mirror.Key() != next.Mirror.Key() || c.Mirror.OptStartSeq != next.Mirror.OptStartSeq ||
		!ptrTime(c.Mirror.OptStartTime).Equal(ptrTime(next.Mirror.OptStartTime)) {
		return ErrMirrorNotUpdatable
	}
	return nil
}

func ptrTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// Metadata keys that describe the server rather than the stream or
// consumer: the API level its features need, and the server's own level
// and version. Responses add them (WithServerMetadata); the store keeps
// none of them, whatever a client sends back.
const (
	MetaRequiredLevel = "_nats.req.level"
	MetaServerLevel   = "_nats.level"
	MetaServerVersion = "_nats.ver"
)

// RequiredLevel is the JetStream API level the stream's features need.
func (c *StreamConfig) RequiredLevel() int {
	level := 0
	if c.AllowMsgTTL || c.SubjectDeleteMarkerTTL > 0 {
		level = 1
	}
	if c.AllowMsgCounter || c.AllowAtomicPublish {
		level = 2
	}
	return level
}

// withoutServerKeys drops the server's keys from metadata (a copy), nil
// when nothing is left.
func withoutServerKeys(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	delete(out, MetaRequiredLevel)
	delete(out, MetaServerLevel)
	delete(out, MetaServerVersion)
	if len(out) == 0 {
		return nil
	}
	return out
}

// WithServerMetadata returns metadata (a copy) with the server's keys: the
// required level, the server's API level and its version.
func WithServerMetadata(m map[string]string, required, level int, version string) map[string]string {
	out := make(map[string]string, len(m)+3)
	maps.Copy(out, m)
	out[MetaRequiredLevel] = strconv.Itoa(required)
	out[MetaServerLevel] = strconv.Itoa(level)
	out[MetaServerVersion] = version
	return out
}

// shortHash is a short, stable name for a string (an API prefix).
func shortHash(s string) string { return hashName(s) }

// hashName is the 8 character hash the reference server names things by.
func hashName(s string) string {
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	sum := sha256.Sum256([]byte(s))
	out := make([]byte, 8)
	for i := range out {
		out[i] = digits[int(sum[i])%len(digits)]
	}
	return string(out)
}
