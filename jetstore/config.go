package jetstore

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/midgemq/midge/sublist"
)

// Retention, discard and storage policies as clients spell them.
const (
	RetentionLimits    = "limits"
	RetentionInterest  = "interest"
	RetentionWorkQueue = "workqueue"

	DiscardOld = "old"
	DiscardNew = "new"

	StorageFile   = "file"
	StorageMemory = "memory"
)

// Defaults applied by normalize.
const (
	DefaultDuplicateWindow = 2 * time.Minute
	minMaxAge              = 100 * time.Millisecond
	maxNameLen             = 255
)

// StreamConfig is a stream's configuration in the JSON shape of the
// JetStream API; the store persists it in the same shape.
type StreamConfig struct {
	Name                 string            `json:"name"`
	Description          string            `json:"description,omitempty"`
	Subjects             []string          `json:"subjects,omitempty"`
	Retention            string            `json:"retention"`
	MaxConsumers         int               `json:"max_consumers"`
	MaxMsgs              int64             `json:"max_msgs"`
	MaxBytes             int64             `json:"max_bytes"`
	MaxAge               time.Duration     `json:"max_age"`
	MaxMsgsPerSubject    int64             `json:"max_msgs_per_subject"`
	MaxMsgSize           int32             `json:"max_msg_size"`
	Discard              string            `json:"discard"`
	DiscardNewPerSubject bool              `json:"discard_new_per_subject,omitempty"`
	Storage              string            `json:"storage"`
	Replicas             int               `json:"num_replicas"`
	NoAck                bool              `json:"no_ack,omitempty"`
	Duplicates           time.Duration     `json:"duplicate_window,omitempty"`
	Compression          string            `json:"compression"`
	AllowDirect          bool              `json:"allow_direct"`
	MirrorDirect         bool              `json:"mirror_direct"`
	Sealed               bool              `json:"sealed"`
	DenyDelete           bool              `json:"deny_delete"`
	DenyPurge            bool              `json:"deny_purge"`
	AllowRollup          bool              `json:"allow_rollup_hdrs"`
	AllowMsgTTL          bool              `json:"allow_msg_ttl"`
	ConsumerLimits       ConsumerLimits    `json:"consumer_limits"`
	Metadata             map[string]string `json:"metadata,omitempty"`
	FirstSeq             uint64            `json:"first_seq,omitempty"`
	Placement            *Placement        `json:"placement,omitempty"`

	SubjectDeleteMarkerTTL time.Duration `json:"subject_delete_marker_ttl,omitempty"`
	AllowMsgCounter        bool          `json:"allow_msg_counter,omitempty"`
	AllowAtomicPublish     bool          `json:"allow_atomic,omitempty"`
	// AllowMsgSchedules is read only to be refused: midge has no message
	// schedules yet, and a stream that silently ignored the setting would
	// lose what clients rely on.
	AllowMsgSchedules bool `json:"allow_msg_schedules,omitempty"`
	// AllowBatched permits fast batch publishing. It is stored and echoed
	// (natscli's bench asks for it on 2.14 servers), but midge does not
	// implement the fast batch protocol.
	AllowBatched     bool                    `json:"allow_batched,omitempty"`
	Mirror           *StreamSource           `json:"mirror,omitempty"`
	Sources          []*StreamSource         `json:"sources,omitempty"`
	SubjectTransform *SubjectTransformConfig `json:"subject_transform,omitempty"`
	RePublish        *RePublish              `json:"republish,omitempty"`
}

// ConsumerLimits are defaults for the stream's consumers.
type ConsumerLimits struct {
	InactiveThreshold time.Duration `json:"inactive_threshold,omitempty"`
	MaxAckPending     int           `json:"max_ack_pending,omitempty"`
}

// Placement is accepted and echoed; midge runs unclustered.
type Placement struct {
	Cluster string   `json:"cluster"`
	Tags    []string `json:"tags,omitempty"`
}

// ValidName reports whether s may name a stream or consumer.
func ValidName(s string) bool {
	if s == "" || len(s) > maxNameLen {
		return false
	}
	return !strings.ContainsAny(s, " \t\r\n\f.*>/\\")
}

// normalize fills defaults and validates the configuration, returning the
// configuration as clients should see it echoed. A stream may capture a
// reserved subject only with NoAck.
func (c StreamConfig) normalize(reserved []string) (StreamConfig, error) {
	if err := c.checkRanges(); err != nil {
		return c, err
	}
	if !ValidName(c.Name) {
		return c, errStreamConfig("invalid stream name %q", c.Name)
	}
	if err := c.checkFeatures(); err != nil {
		return c, err
	}
	if len(c.Subjects) == 0 && c.Mirror == nil && len(c.Sources) == 0 {
		c.Subjects = []string{c.Name}
	}
	if err := validateSubjects(c.Subjects, c.NoAck, reserved); err != nil {
		return c, err
	}
	if err := c.normalizePolicies(); err != nil {
		return c, err
	}
	c.normalizeLimits()
	if c.MaxAge < 0 || (c.MaxAge > 0 && c.MaxAge < minMaxAge) {
		return c, errStreamConfig("max age needs to be >= 100ms")
	}
	if c.Duplicates < 0 {
		return c, errStreamConfig("duplicates window can not be negative")
	}
	if c.Duplicates == 0 && c.Mirror == nil && len(c.Sources) == 0 {
		c.Duplicates = DefaultDuplicateWindow
		if c.MaxAge > 0 && c.MaxAge < c.Duplicates {
			c.Duplicates = c.MaxAge
		}
	}
	if c.MaxAge > 0 && c.Duplicates > c.MaxAge {
		return c, errStreamConfig("duplicates window can not be larger then max age")
	}
	switch {
	case c.Replicas == 0:
		c.Replicas = 1
	case c.Replicas > 1:
		return c, ErrReplicasNotSupported
	case c.Replicas < 0:
		return c, errStreamConfig("replicas must be 1")
	}
	if c.DenyPurge && c.AllowRollup {
		return c, errStreamConfig("roll-ups require the purge permission")
	}
	// The reference server's two texts, which clients match.
	if c.DiscardNewPerSubject && c.Discard != DiscardNew {
		return c, errStreamConfig("discard new per subject requires discard new policy to be set")
	}
	if c.DiscardNewPerSubject && c.MaxMsgsPerSubject <= 0 {
		return c, errStreamConfig("discard new per subject requires max msgs per subject > 0")
	}
	c.Metadata = withoutServerKeys(c.Metadata)
	return c, nil
}

func (c *StreamConfig) normalizePolicies() error {
	switch c.Retention {
	case "":
		c.Retention = RetentionLimits
	case RetentionLimits, RetentionInterest, RetentionWorkQueue:
	default:
		return errStreamConfig("invalid retention policy %q", c.Retention)
	}
	switch strings.ToLower(c.Discard) {
	case "", DiscardOld:
		c.Discard = DiscardOld
	case DiscardNew:
		c.Discard = DiscardNew
	default:
		return errStreamConfig("invalid discard policy %q", c.Discard)
	}
	switch c.Storage {
	case "":
		c.Storage = StorageFile
	case StorageFile, StorageMemory:
	default:
		return errStreamConfig("invalid storage type %q", c.Storage)
	}
	switch c.Compression {
	case "", "none", "s2":
		if c.Compression == "" {
			c.Compression = "none"
		}
	default:
		return errStreamConfig("invalid compression %q", c.Compression)
	}
	return nil
}

// normalizeLimits maps 0 and other non-positive values to -1, "unlimited".
func (c *StreamConfig) normalizeLimits() {
	if c.MaxConsumers <= 0 {
		c.MaxConsumers = -1
	}
	if c.MaxMsgs <= 0 {
		c.MaxMsgs = -1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = -1
	}
	if c.MaxMsgsPerSubject <= 0 {
		c.MaxMsgsPerSubject = -1
	}
	if c.MaxMsgSize <= 0 {
		c.MaxMsgSize = -1
	}
}

func validateSubjects(subjects []string, noAck bool, reserved []string) error {
	seen := make(map[string]bool, len(subjects))
	for _, s := range subjects {
		if !sublist.ValidSubject(s) {
			return errStreamConfig("invalid subject %q", s)
		}
		if seen[s] {
			return errStreamConfig("duplicate subjects detected")
		}
		seen[s] = true
		if !noAck && slices.ContainsFunc(reserved, func(r string) bool { return sublist.SubjectsCollide(s, r) }) {
			return fmt.Errorf("subject %q: %w", s, ErrReservedSubject)
		}
	}
	return nil
}

// CheckUpdate validates changing the stream from c to next (both
// normalised): only limits, subjects, flags and descriptive fields may
// change.
func (c StreamConfig) CheckUpdate(next StreamConfig) error {
	switch {
	case next.Name != c.Name:
		return errStreamConfig("stream configuration name must match original")
	case next.Storage != c.Storage:
		return errStreamConfig("stream configuration update can not change storage type")
	case next.Retention != c.Retention:
		return errStreamConfig("stream configuration update can not change retention policy")
	case c.Sealed && !next.Sealed:
		return errStreamConfig("stream configuration update can not unseal a sealed stream")
	case c.DenyDelete && !next.DenyDelete:
		return errStreamConfig("stream configuration update can not cancel deny message deletes")
	case c.DenyPurge && !next.DenyPurge:
		return errStreamConfig("stream configuration update can not cancel deny purge")
	case next.FirstSeq != c.FirstSeq && next.FirstSeq != 0:
		return errStreamConfig("stream configuration update can not change first sequence")
	}
	return c.checkMirrorUpdate(&next)
}

// Equal reports whether two normalised configurations are the same for the
// purpose of an idempotent create. Server-added metadata keys (`_nats.`)
// are ignored.
func (c StreamConfig) Equal(o StreamConfig) bool {
	a, b := c, o
	a.Metadata, b.Metadata = userMetadata(c.Metadata), userMetadata(o.Metadata)
	ja, erra := json.Marshal(a)
	jb, errb := json.Marshal(b)
	return erra == nil && errb == nil && string(ja) == string(jb)
}

func userMetadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := maps.Clone(m)
	for k := range out {
		if strings.HasPrefix(k, "_nats.") {
			delete(out, k)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// capturesSubject reports whether a literal subject belongs to the stream.
func (c *StreamConfig) capturesSubject(subject string) bool {
	return slices.ContainsFunc(c.Subjects, func(p string) bool { return sublist.MatchLiteral(subject, p) })
}

// overlaps reports whether any subject of c collides with one of o.
func (c *StreamConfig) overlaps(o *StreamConfig) bool {
	for _, a := range c.Subjects {
		for _, b := range o.Subjects {
			if sublist.SubjectsCollide(a, b) {
				return true
			}
		}
	}
	return false
}
