package jetstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
)

// Consumers of file streams keep their state in their own directory:
//
//	meta.json, meta.bak  the configuration (as for streams)
//	state.snap           a snapshot: positions, pending messages; checksummed
//	state.log            records since the snapshot: deliveries and acks
//
// Deliveries are written without fsync (if they are lost in a crash the
// messages are simply delivered again); acknowledgements are fsynced before
// the consumer answers or acts on them, so an acknowledged message is never
// redelivered after a crash. The log starts with a generation record that
// must match the snapshot's, so a crash between writing a snapshot and
// emptying the log never replays stale records over the new snapshot.

// Consumer log record kinds, after the stream's.
const (
	kindDelivered byte = 10 // u64 sseq, u64 cseq, u32 dc, i64 time
	kindAcked     byte = 11 // u64 sseq
	kindLogGen    byte = 12 // u64 generation
)

const (
	consumerSnapFile = "state.snap"
	consumerLogFile  = "state.log"
	// snapshotAfter is the log size that triggers a snapshot.
	snapshotAfter = 8 << 20
)

type consumerLog struct {
	fsys FS
	dir  string
	file File
	gen  uint64
	buf  []byte // records not yet written
	size int64
	// broken: a write or fsync failed; the file is appended to again only
	// after a snapshot emptied it (persistLocked).
	broken bool
}

// appendConsumerRecord frames a consumer record like a stream record.
func appendConsumerRecord(dst []byte, kind byte, fields ...uint64) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+8*len(fields)+recordCRCLen))
	dst = append(dst, kind)
	for _, f := range fields {
		dst = binary.LittleEndian.AppendUint64(dst, f)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], crcTable))
}

// decodeConsumerRecord returns the kind and fields of the record at b.
func decodeConsumerRecord(b []byte) (byte, []uint64, int, error) {
	if len(b) < 4 {
		return 0, nil, 0, errTornRecord
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 1+recordCRCLen || n > 1<<10 {
		return 0, nil, 0, errCorruptRecord
	}
	if len(b) < 4+n {
		return 0, nil, 0, errTornRecord
	}
	body := b[4 : 4+n-recordCRCLen]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(b[4+n-recordCRCLen:]) {
		return 0, nil, 0, errCorruptRecord
	}
	if (len(body)-1)%8 != 0 {
		return 0, nil, 0, errCorruptRecord
	}
	fields := make([]uint64, (len(body)-1)/8)
	for i := range fields {
		fields[i] = binary.LittleEndian.Uint64(body[1+8*i:])
	}
	return body[0], fields, 4 + n, nil
}

func (c *Consumer) logDelivered(sseq, cseq uint64, dc int, now time.Time) {
	if c.log != nil {
		c.log.buf = appendConsumerRecord(c.log.buf, kindDelivered, sseq, cseq, uint64(dc), uint64(now.UnixNano()))
	}
}

func (c *Consumer) logAcked(sseq uint64) {
	if c.log != nil {
		c.log.buf = appendConsumerRecord(c.log.buf, kindAcked, sseq)
	}
}

// persistLocked writes the records of this pass; with sync (acks were
// applied) it also fsyncs them. A big log is folded into a snapshot.
//
// A failed write or fsync breaks the log: what it holds past its last
// good size is cut (best effort) and never appended to again. Until a
// snapshot succeeds, records are dropped (the snapshot will hold the state
// they describe) and every sync is a snapshot attempt, so an ack counts
// only once a state that includes it is durable.
func (c *Consumer) persistLocked(sync bool) error {
	l := c.log
	if l == nil {
		return nil
	}
	if l.broken {
		l.buf = l.buf[:0]
		if !sync {
			return nil
		}
		return c.snapshotLocked()
	}
	if len(l.buf) == 0 {
		return nil
	}
	if _, err := l.file.Write(l.buf); err != nil {
		l.breakAt(l.size)
		return err
	}
	written := l.size
	l.size += int64(len(l.buf))
	l.buf = l.buf[:0]
	if sync {
		if err := l.file.Sync(); err != nil {
			l.breakAt(written)
			return err
		}
	}
	if l.size > snapshotAfter {
		// The records are durable; a snapshot that fails now only leaves
		// the log to be folded later.
		if err := c.snapshotLocked(); err != nil {
			c.st.store.log.Warn("consumer snapshot failed", "stream", c.st.Name(), "consumer", c.name, "error", err)
		}
	}
	return nil
}

// breakAt marks the log unusable after a failed write or sync and cuts it
// back to size, the end of what was there before.
func (l *consumerLog) breakAt(size int64) {
	l.broken = true
	l.buf = l.buf[:0]
	if l.file.Truncate(size) == nil {
		l.size = size
	}
}

// saveLocked persists the pass's state; acks count only when it is saved.
// When it is not, the acks of the pass are taken back (the ack floor does
// not move, nothing is removed from the stream), and those that asked for
// no answer are kept to be applied again after retryAfterFailure: a
// client acks once and cannot tell it failed. It reports whether the acks
// were saved.
func (c *Consumer) saveLocked(acks []ackReq, now time.Time) bool {
	err := c.persistLocked(len(acks) > 0)
	if err == nil {
		return true
	}
	c.st.store.log.Error("consumer state not saved; its acknowledgements are not applied",
		"stream", c.st.Name(), "consumer", c.name, "error", err)
	c.acks.rollback()
	for _, a := range acks {
		if !a.needsSave() || len(a.reply) > 0 || len(c.retry) >= maxInbox {
			continue
		}
		a.next = PullRequest{} // the pull request of +NXT was admitted already
		c.retry = append(c.retry, a)
	}
	c.retryAt = now.Add(retryAfterFailure)
	return false
}

// retriedAcksLocked puts the acks kept by a failed save ahead of the new
// ones once their retry is due.
func (c *Consumer) retriedAcksLocked(acks []ackReq, now time.Time) []ackReq {
	if len(c.retry) == 0 || now.Before(c.retryAt) {
		return acks
	}
	all := append(c.retry, acks...)
	c.retry = nil
	return all
}

// consumerSnapshot is the snapshot file's content.
type consumerSnapshot struct {
	Gen     uint64          `json:"gen"`
	Next    uint64          `json:"next_seq"`
	DSeq    uint64          `json:"consumer_seq"`
	DSSeq   uint64          `json:"stream_seq"`
	LPS     []uint64        `json:"last_per_subject,omitempty"`
	Pending []snapshotEntry `json:"pending,omitempty"`
}

type snapshotEntry struct {
	Seq  uint64 `json:"s"`
	CSeq uint64 `json:"c"`
	DC   int    `json:"d"`
	Sent int64  `json:"t"`
}

// snapshotLocked writes the whole state and restarts the log.
func (c *Consumer) snapshotLocked() error {
	l := c.log
	snap := consumerSnapshot{Gen: l.gen + 1, Next: c.cur.next, DSeq: c.cur.dseq, DSSeq: c.cur.dsseq, LPS: c.cur.lps}
	for seq, p := range c.acks.pending {
		snap.Pending = append(snap.Pending, snapshotEntry{Seq: seq, CSeq: p.cseq, DC: p.dc, Sent: p.sent})
	}
	js, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	js = binary.LittleEndian.AppendUint32(js, crc32.Checksum(js, crcTable))
	if err := writeFileAtomic(l.fsys, filepath.Join(l.dir, consumerSnapFile), js); err != nil {
		return err
	}
	l.gen++
	// The snapshot holds the whole state: the log's records are stale from
	// here on whatever happens to it.
	l.buf = l.buf[:0]
	if err := l.file.Truncate(0); err != nil {
		// Records appended after stale ones would be ignored on replay:
		// the log stays broken until a snapshot can empty it.
		l.broken = true
		c.st.store.log.Warn("consumer log not emptied after a snapshot", "consumer", c.name, "error", err)
		return nil
	}
	l.size, l.broken = 0, false
	l.buf = appendConsumerRecord(l.buf, kindLogGen, l.gen)
	return nil
}

// openConsumerLog opens (or creates) a durable consumer's state and
// replays it into c.
func (c *Consumer) openConsumerLog(dir string) error {
	fsys := c.st.store.fs
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	l := &consumerLog{fsys: fsys, dir: dir}
	if raw, err := fsys.ReadFile(filepath.Join(dir, consumerSnapFile)); err == nil {
		if err := c.loadSnapshot(raw, l); err != nil {
			c.st.store.log.Warn("consumer snapshot unusable; using the log alone", "consumer", c.name, "error", err)
		}
	}
	f, err := fsys.OpenFile(filepath.Join(dir, consumerLogFile), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	l.file = f
	info, err := f.Stat()
	if err != nil {
		return err
	}
	data := make([]byte, info.Size())
	if _, err := f.ReadAt(data, 0); err != nil && info.Size() > 0 {
		return fmt.Errorf("reading consumer log: %w", err)
	}
	valid := c.replayLog(data, l.gen)
	if valid < len(data) {
		c.st.store.log.Warn("cut off a torn consumer log", "consumer", c.name, "lost_bytes", len(data)-valid)
		if err := f.Truncate(int64(valid)); err != nil {
			return err
		}
	}
	l.size = int64(valid)
	if valid == 0 {
		l.buf = appendConsumerRecord(l.buf, kindLogGen, l.gen)
	}
	c.log = l
	c.acks.rebuild(c.ackWaitFor)
	return nil
}

func (c *Consumer) loadSnapshot(raw []byte, l *consumerLog) error {
	if len(raw) < 4 {
		return errors.New("snapshot too short")
	}
	js := raw[:len(raw)-4]
	if crc32.Checksum(js, crcTable) != binary.LittleEndian.Uint32(raw[len(raw)-4:]) {
		return errors.New("snapshot checksum mismatch")
	}
	var snap consumerSnapshot
	if err := json.Unmarshal(js, &snap); err != nil {
		return err
	}
	l.gen = snap.Gen
	c.cur.next, c.cur.dseq, c.cur.dsseq, c.cur.lps = snap.Next, snap.DSeq, snap.DSSeq, snap.LPS
	for _, e := range snap.Pending {
		c.acks.restore(e.Seq, e.CSeq, e.DC, e.Sent)
	}
	return nil
}

// replayLog applies the log's records and returns the valid length. A log
// of another generation than the snapshot is stale and ignored.
func (c *Consumer) replayLog(data []byte, gen uint64) int {
	off := 0
	for off < len(data) {
		kind, f, n, err := decodeConsumerRecord(data[off:])
		if err != nil {
			return off
		}
		if off == 0 && (kind != kindLogGen || f[0] != gen) {
			return 0 // stale: written before the snapshot we loaded
		}
		switch kind {
		case kindDelivered:
			c.replayDelivered(f[0], f[1], int(f[2]), int64(f[3]))
		case kindAcked:
			c.acks.forget(f[0])
		}
		off += n
	}
	return off
}

func (c *Consumer) replayDelivered(sseq, cseq uint64, dc int, sent int64) {
	c.cur.replayed(sseq, cseq)
	if c.cfg.AckPolicy != AckNone {
		c.acks.restore(sseq, cseq, dc, sent)
	}
}

func (l *consumerLog) close() {
	if l != nil && l.file != nil {
		if len(l.buf) > 0 {
			_, _ = l.file.Write(l.buf)
			l.buf = l.buf[:0]
		}
		_ = l.file.Sync()
		l.file.Close()
	}
}
