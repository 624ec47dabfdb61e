package jscluster

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// Catch-up: a replica that is behind reads what it misses from a peer
// whose replica is synced and at least as far, in chunks it asks for one
// after the other (so that a large stream never floods the route):
//
//  1. the messages after its own last sequence, up to the target (the
//     peer sends only those it still holds; the others were deleted);
//  2. the sequences up to the target the peer no longer holds, which it
//     deletes too (deletions it missed while it was away);
//  3. then it replays the entries it buffered meanwhile, and is synced.

const (
	catchupChunk    = 1 << 20
	catchupRanges   = 64 << 10
	catchupTimeout  = 10 * time.Second
	catchupMaxSleep = 2 * time.Second
)

var errNotCaughtUp = errors.New("replica not caught up")

// catchup runs on its own goroutine until the replica is synced, stops or
// is found damaged.
func (r *replica) catchup() {
	defer r.c.wg.Done()
	sleep := 50 * time.Millisecond
	for {
		r.mu.Lock()
		if r.stopped || r.mode != modeBehind || r.c.isStopping() {
			r.catching = false
			r.mu.Unlock()
			return
		}
		target := r.target
		r.overflow = false
		r.mu.Unlock()
		if err := r.fetch(target); err != nil {
			r.c.log.Debug("stream catch-up attempt failed", "stream", r.name, "group", r.gid, "error", err)
			if !r.c.sleep(sleep) {
				continue // stopping: the loop's check returns
			}
			sleep = min(2*sleep, catchupMaxSleep)
			continue
		}
		if r.finishCatchup() {
			r.c.log.Info("stream replica caught up", "account", r.account, "stream", r.name, "last_seq", target)
			return
		}
	}
}

// finishCatchup replays the buffered entries; false when the replica must
// catch up further (the buffer overflowed, or it fell behind again).
func (r *replica) finishCatchup() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.overflow {
		r.target = r.lastSeq
		return false
	}
	buf := r.buffered
	r.buffered, r.bufBytes = nil, 0
	r.mode = modeSynced
	for i, data := range buf {
		r.storeLocked(data, nil)
		if r.mode != modeSynced {
			// The remaining entries go back into the new buffer, in order.
			for _, d := range buf[i+1:] {
				r.bufferLocked(d)
			}
			return false
		}
	}
	r.catching = false
	return true
}

// fetch makes the local stream hold what the group had at target.
func (r *replica) fetch(target uint64) error {
	peer := r.c.catchupPeer(r)
	if peer == "" {
		return errors.New("no peer to catch up from")
	}
	for {
		from := r.st.LastSeq() + 1
		if from > target {
			break
		}
		resp, err := r.c.callPeer(peer, mCatchupMsgs, encodeCatchup(r.gid, from, target, catchupChunk))
		if err != nil {
			return err
		}
		msgs, _, err := decodeMsgList(resp)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			break // the peer holds nothing more up to target
		}
		if _, err := r.st.ApplyReplicated(msgs, true); err != nil {
			return err
		}
	}
	if err := r.st.AdvanceReplicated(target); err != nil {
		return err
	}
	for cursor := uint64(1); cursor <= target; {
		resp, err := r.c.callPeer(peer, mCatchupDelete, encodeCatchup(r.gid, cursor, target, catchupRanges))
		if err != nil {
			return err
		}
		ranges, next, err := decodeRanges(resp)
		if err != nil {
			return err
		}
		if len(ranges) > 0 {
			if _, err := r.st.DeleteReplicated(ranges); err != nil {
				return err
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	return nil
}

func encodeCatchup(gid, from, to uint64, limit int) []byte {
	b := make([]byte, 0, 32)
	b = binary.LittleEndian.AppendUint64(b, gid)
	b = binary.LittleEndian.AppendUint64(b, from)
	b = binary.LittleEndian.AppendUint64(b, to)
	return binary.LittleEndian.AppendUint64(b, uint64(limit))
}

func decodeCatchup(b []byte) (gid, from, to uint64, limit int, err error) {
	if len(b) != 32 {
		return 0, 0, 0, 0, errBadEntry
	}
	gid, from, to = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:]), binary.LittleEndian.Uint64(b[16:])
	l := binary.LittleEndian.Uint64(b[24:])
	if from == 0 || from > to || l == 0 || l > 64<<20 {
		return 0, 0, 0, 0, errBadEntry
	}
	return gid, from, to, int(l), nil
}

// decodeRanges reads a deletion page: the next sequence to ask from (0:
// done), then the ranges.
func decodeRanges(b []byte) ([]jetstore.SeqRange, uint64, error) {
	if len(b) < 9 || b[8] != byte(opDelete) {
		return nil, 0, errBadEntry
	}
	ranges, err := decodeDelete(b[9:])
	return ranges, binary.LittleEndian.Uint64(b), err
}

// servingReplica is a replica that may serve a catch-up up to seq.
func (c *Cluster) servingReplica(gid, upTo uint64) (*replica, error) {
	r := c.replica(gid)
	if r == nil {
		return nil, errors.New("no replica of that group here")
	}
	if mode, last := r.status(); mode != modeSynced || last < upTo {
		return nil, errNotCaughtUp
	}
	return r, nil
}

func (c *Cluster) serveCatchupMsgs(_ string, body []byte) ([]byte, error) {
	gid, from, to, limit, err := decodeCatchup(body)
	if err != nil {
		return nil, err
	}
	r, err := c.servingReplica(gid, to)
	if err != nil {
		return nil, err
	}
	msgs := r.st.ReadFrom(from, to, limit)
	return appendMsgList(make([]byte, 0, msgListSize(msgs)), msgs), nil
}

func (c *Cluster) serveCatchupDelete(_ string, body []byte) ([]byte, error) {
	gid, from, to, limit, err := decodeCatchup(body)
	if err != nil {
		return nil, err
	}
	r, err := c.servingReplica(gid, to)
	if err != nil {
		return nil, err
	}
	ranges := r.st.Deleted(from, to)
	var next uint64
	if len(ranges) > limit {
		ranges = ranges[:limit]
		next = ranges[limit-1].Last + 1
	}
	out := binary.LittleEndian.AppendUint64(nil, next)
	return append(out, encodeDelete(ranges)...), nil
}

// catchupPeer picks a server to catch up from: the group's leader when it
// is another server, else another member, at random.
func (c *Cluster) catchupPeer(r *replica) string {
	g := r.group.Load()
	if g == nil {
		return ""
	}
	st := g.Status()
	if st.Leader != 0 && st.Leader != c.selfID {
		if name := c.names.name(st.Leader); name != "" && c.connected(name) && rand.IntN(4) != 0 {
			return name
		}
	}
	var cands []string
	for _, id := range st.Voters {
		if name := c.names.name(id); id != c.selfID && name != "" && c.connected(name) {
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return ""
	}
	return cands[rand.IntN(len(cands))]
}

func (c *Cluster) callPeer(peer string, m method, body []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), catchupTimeout)
	defer cancel()
	return c.rpc.call(ctx, peer, m, body)
}
