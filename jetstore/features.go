package jetstore

import (
	"time"

	"github.com/midgemq/midge/transform"
)

// streamFeatures is the state of a stream's features beyond storing what
// is published, rebuilt from the configuration (configure) and, for what
// is stored, from the records on recovery. Guarded by Stream.mu.
type streamFeatures struct {
	transform *transform.Transform // the stream's subject transform
	republish bool                 // results carry what republishing needs
	sdmTTL    int64                // subject delete marker TTL, ns; 0: none
	ttl       ttlIndex             // messages with a TTL, by expiry
	timerDue  int64                // when the expiry timer fires (unix ns); 0: stopped
	// sources is how far each source (by StreamSource.Key) was copied.
	sources map[string]sourcePos
	// batch is the atomic batch recovery is reading, nil otherwise.
	batch *recoveringBatch
}

// Headers reads and writes the few stored headers the store acts on; the
// server implements it in its own protocol's terms (Options.Headers).
// Without it, TTLs and source positions are not rebuilt on recovery and no
// delete markers are written.
type Headers interface {
	// MessageTTL reads a stored message's time to live; ok is false when
	// it has none, a negative ttl means never to expire.
	MessageTTL(header []byte) (ttl time.Duration, ok bool)
	// IsDeleteMarker reports whether a stored message marks a removal.
	IsDeleteMarker(header []byte) bool
	// DeleteMarker is the header of a marker left for a subject whose last
	// message was removed for reason, expiring itself after ttl.
	DeleteMarker(reason string, ttl time.Duration) []byte
	// SourcePosition reads, from a message copied from a source, the key of
	// the source, the message's sequence there and the origin's identity.
	SourcePosition(header []byte) (key string, seq uint64, ident string, ok bool)
	// Sourced is the header a message copied from a source is stored with
	// (its original header plus where it came from: the source's key, the
	// origin sequence and subject, the origin's identity), and what of the
	// original header the stream acts on (its deduplication id, its TTL);
	// header is not modified.
	Sourced(header []byte, key string, seq uint64, subject, ident string) ([]byte, *PublishOptions)
}

// Reasons for a delete marker.
const DeleteMarkerMaxAge = "MaxAge"

// Origin is where a copied message comes from.
type Origin struct {
	// Mirror: store the message under Seq with the original's time (Time,
	// unix ns); sequences in between stay unused.
	Mirror bool
	Seq    uint64
	Time   int64
	// Source is the key of the source (StreamSource.Key) whose position
	// becomes Seq once the message is stored; Ident is the identity of the
	// origin stream (Stream.Identity).
	Source string
	Ident  string
}

// configure compiles what the configuration asks for (stream lock held,
// or the stream not yet shared).
func (f *streamFeatures) configure(cfg *StreamConfig) {
	f.transform = nil
	if t := cfg.SubjectTransform; t != nil {
		f.transform, _ = transform.New(t.Source, t.Destination) // validated
	}
	f.republish = cfg.RePublish != nil
	f.sdmTTL = int64(cfg.SubjectDeleteMarkerTTL)
}

// storedSubject is the subject a published message is stored under.
func (f *streamFeatures) storedSubject(subject string) string {
	if f.transform == nil {
		return subject
	}
	if s, ok := f.transform.Match(subject); ok {
		return s
	}
	return subject
}

// sourcePos is how far a source was copied: the origin sequence of its
// last stored message, and the identity of the origin stream it came
// from (so that a re-created origin is copied again from its start).
type sourcePos struct {
	seq   uint64
	ident string
}

// noteSource records that a source was copied up to seq of the origin
// with identity ident. A new identity replaces the position.
func (f *streamFeatures) noteSource(key string, seq uint64, ident string) {
	if f.sources == nil {
		f.sources = make(map[string]sourcePos)
	}
	p, ok := f.sources[key]
	if !ok || ident != "" && p.ident != "" && ident != p.ident || seq > p.seq {
		if ident == "" {
			ident = p.ident
		}
		f.sources[key] = sourcePos{seq: seq, ident: ident}
	}
}

// noteStoredLocked updates the feature state for a message just stored
// as seq at ts.
func (st *Stream) noteStoredLocked(m *InMsg, seq uint64, ts int64) {
	if o := m.Options; o != nil && o.HasTTL {
		if ttl := st.effectiveTTL(o.TTL); ttl > 0 {
			st.features.ttl.add(seq, ts, ttl)
			st.expireSoonerLocked(ts + int64(ttl))
		}
	}
	if o := m.Origin; o != nil && o.Source != "" {
		st.features.noteSource(o.Source, o.Seq, o.Ident)
	}
}

// effectiveTTL is the TTL a message keeps: with subject delete markers, at
// least the markers' own TTL, so that a marker never outlives what it
// marks (unless a subject keeps one message only).
func (st *Stream) effectiveTTL(ttl time.Duration) time.Duration {
	if sdm := time.Duration(st.features.sdmTTL); ttl > 0 && sdm > 0 && st.cfg.MaxMsgsPerSubject != 1 && ttl < sdm {
		return sdm
	}
	return ttl
}

// resetStored forgets what was derived from stored messages (before
// recovery rebuilds it).
func (f *streamFeatures) resetStored() {
	f.ttl.reset()
	f.sources = nil
	f.batch = nil
}

// noteRecoveredFeaturesLocked rebuilds, from one recovered message, its
// TTL and its source's position.
func (st *Stream) noteRecoveredFeaturesLocked(seq uint64, ts int64, header []byte) {
	h := st.store.opts.Headers
	if h == nil || len(header) == 0 {
		return
	}
	if ttl, ok := h.MessageTTL(header); ok {
		st.features.ttl.add(seq, ts, st.effectiveTTL(ttl))
	}
	if key, sseq, ident, ok := h.SourcePosition(header); ok {
		st.features.noteSource(key, sseq, ident)
	}
}
