package jsapi

import (
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
)

// Atomic batch publish: messages carrying Nats-Batch-Id and
// Nats-Batch-Sequence (1, 2, ...) are collected per batch; the one with
// Nats-Batch-Commit: 1 ends the batch and is part of it ("eob" ends it
// without being stored), and the whole batch goes to the stream as one
// unit, stored all together or not at all. Messages before the commit are
// answered with an empty message once collected; the commit is answered
// with the usual acknowledgement plus the batch id and size, once every
// message of the batch is durable, or with the error that refused it.
// A batch nobody adds to for batchTimeout is abandoned.

const (
	hdrBatchID     = "Nats-Batch-Id"
	hdrBatchSeq    = "Nats-Batch-Sequence"
	hdrBatchCommit = "Nats-Batch-Commit"

	maxBatchMsgs         = 1000
	maxBatchesPerStream  = 50
	maxBatchIDLen        = 64
	maxStagedBatchBytes  = 64 << 20 // per stream
	batchTimeout         = 10 * time.Second
	batchCommitInclusive = "1"
	batchCommitEOB       = "eob"
)

// batches are one stream's batches being collected.
type batches struct {
	mu    sync.Mutex
	open  map[string]*stagedBatch
	bytes int
}

type stagedBatch struct {
	msgs  []*jetstore.InMsg
	bytes int
	timer *time.Timer
}

// isBatchMsg reports whether a published message belongs to a batch.
func isBatchMsg(hdr []byte) bool {
	return len(hdr) > 0 && bytes.Contains(hdr, []byte(hdrBatchID)) && parser.HasHeader(hdr, hdrBatchID)
}

// captureBatch collects one batch message (in the publisher's read loop).
func (ja *jsAccount) captureBatch(js *jsStream, m *jetstore.InMsg) {
	cfg := js.stream.Config()
	reply := m.Reply
	answer := func(e *apiError) {
		if e != nil && len(reply) > 0 && !cfg.NoAck {
			body, _ := json.Marshal(pubAck{Stream: cfg.Name, Error: e})
			ja.errPub.Publish(reply, nil, nil, body)
		}
	}
	id := string(parser.HeaderValue(m.Header, hdrBatchID))
	switch {
	case cfg.Sealed:
		answer(jsErrStreamSealed)
		return
	case cfg.MaxMsgSize > 0 && len(m.Header)+len(m.Data) > int(cfg.MaxMsgSize):
		answer(jsErrMessageTooLarge)
		return
	case !cfg.AllowAtomicPublish:
		answer(jsErrBatchDisabled)
		return
	case id == "" || len(id) > maxBatchIDLen:
		answer(jsErrBatchInvalidID)
		return
	}
	seq, err := strconv.ParseUint(string(parser.HeaderValue(m.Header, hdrBatchSeq)), 10, 64)
	if err != nil || seq == 0 {
		answer(jsErrBatchMissingSeq)
		return
	}
	commitValue := parser.HeaderValue(m.Header, hdrBatchCommit)
	commit := commitValue != nil
	eob := string(commitValue) == batchCommitEOB
	size := seq
	if eob {
		size--
	}
	e, _ := js.batches.stage(js, id, seq, size, m, commit, eob, commitValue)
	if e == nil && !commit && len(reply) > 0 && !cfg.NoAck {
		ja.errPub.Publish(reply, nil, nil, nil) // collected
	}
	answer(e)
}

// stage adds m to its batch. When the batch is complete it is handed to
// the stream and done is true; e refuses the message (and, past the first
// message, abandons the batch).
func (bs *batches) stage(js *jsStream, id string, seq, size uint64, m *jetstore.InMsg, commit, eob bool, commitValue []byte) (e *apiError, done bool) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.open[id]
	if b == nil {
		if seq != 1 {
			if size > maxBatchMsgs {
				return jsErrBatchTooLarge.with(maxBatchMsgs), false
			}
			return jsErrBatchIncomplete, false
		}
		if len(bs.open) >= maxBatchesPerStream {
			return jsErrBatchTooMany, false
		}
		b = &stagedBatch{}
		b.timer = time.AfterFunc(batchTimeout, func() { bs.abandon(id, b) })
		if bs.open == nil {
			bs.open = make(map[string]*stagedBatch)
		}
		bs.open[id] = b
	}
	drop := func(e *apiError) (*apiError, bool) {
		bs.dropLocked(id, b)
		return e, false
	}
	switch {
	case commit && !eob && string(commitValue) != batchCommitInclusive:
		return drop(jsErrBatchInvalidCommt)
	case uint64(len(b.msgs))+1 != seq || seq == 1 && eob:
		return drop(jsErrBatchIncomplete)
	case size > maxBatchMsgs:
		return drop(jsErrBatchTooLarge.with(maxBatchMsgs))
	}
	if !eob {
		size := len(m.Subject) + len(m.Reply) + len(m.Header) + len(m.Data)
		if bs.bytes+size > maxStagedBatchBytes {
			return drop(jsErrBatchTooLarge.with(maxBatchMsgs))
		}
		if !commit {
			m.Reply = nil // answered now; only the commit gets an ack
		}
		b.msgs = append(b.msgs, m)
		b.bytes += size
		bs.bytes += size
	}
	if !commit {
		b.timer.Reset(batchTimeout)
		return nil, false
	}
	msgs := b.msgs
	if eob {
		// The end-of-batch message is not stored: its answer goes with the
		// last message, which is marked as the commit.
		last := msgs[len(msgs)-1]
		marked := jetstore.NewInMsg([]byte(last.Subject), m.Reply, withHeader(last.Header, hdrBatchCommit, batchCommitInclusive), last.Data)
		marked.Options = last.Options
		msgs[len(msgs)-1] = marked
	}
	bs.dropLocked(id, b)
	if err := js.stream.PublishBatch(msgs); err != nil {
		return toAPIError(err), false
	}
	return nil, true
}

// dropLocked forgets a batch.
func (bs *batches) dropLocked(id string, b *stagedBatch) {
	if bs.open[id] != b {
		return
	}
	b.timer.Stop()
	delete(bs.open, id)
	bs.bytes -= b.bytes
}

// abandon drops a batch nobody added to in time.
func (bs *batches) abandon(id string, b *stagedBatch) {
	bs.mu.Lock()
	bs.dropLocked(id, b)
	bs.mu.Unlock()
}

// withHeader returns a copy of header block hdr with key: value added.
func withHeader(hdr []byte, key, value string) []byte {
	return appendHeader(make([]byte, 0, len(hdr)+len(key)+len(value)+16), hdr, key, value)
}
