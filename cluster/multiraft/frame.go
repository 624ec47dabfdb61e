package multiraft

import (
	"encoding/binary"
	"errors"
	"fmt"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A frame is what one host sends another in one transport message: the
// messages of many groups for that peer, batched.
//
//	from u64, item count uvarint, items
//	item = kind u8, group u64, body length uvarint, body
//	  kind 1: a raft message (protobuf)
//	  kind 2: quiesce: term u64, commit u64 — the leader of the group has
//	          stopped ticking it; a follower that agrees stops too
//
// A frame with no items is a node heartbeat: it only says the sender is up.

const (
	itemRaft    byte = 1
	itemQuiesce byte = 2
	// maxFrameItems bounds the item count a decoder accepts before reading
	// the items, so that a corrupt count cannot make it allocate.
	maxFrameItems = 1 << 20
)

// frameItem is one decoded item.
type frameItem struct {
	group GroupID
	msg   *pb.Message // itemRaft
	// itemQuiesce
	quiesce      bool
	term, commit uint64
}

// frameBuilder accumulates items for one peer.
type frameBuilder struct {
	buf   []byte
	count int
}

var marshalOpts = proto.MarshalOptions{}

func (b *frameBuilder) addRaft(g GroupID, m *pb.Message) error {
	b.buf = append(b.buf, itemRaft)
	b.buf = binary.LittleEndian.AppendUint64(b.buf, g)
	size := marshalOpts.Size(m)
	b.buf = binary.AppendUvarint(b.buf, uint64(size))
	var err error
	b.buf, err = marshalOpts.MarshalAppend(b.buf, m)
	if err != nil {
		return fmt.Errorf("multiraft: encode raft message: %w", err)
	}
	b.count++
	return nil
}

func (b *frameBuilder) addQuiesce(g GroupID, term, commit uint64) {
	b.buf = append(b.buf, itemQuiesce)
	b.buf = binary.LittleEndian.AppendUint64(b.buf, g)
	b.buf = binary.AppendUvarint(b.buf, 16)
	b.buf = binary.LittleEndian.AppendUint64(b.buf, term)
	b.buf = binary.LittleEndian.AppendUint64(b.buf, commit)
	b.count++
}

// frame returns the encoded frame and resets the builder.
func (b *frameBuilder) frame(from NodeID) []byte {
	out := make([]byte, 0, 8+binary.MaxVarintLen64+len(b.buf))
	out = binary.LittleEndian.AppendUint64(out, from)
	out = binary.AppendUvarint(out, uint64(b.count))
	out = append(out, b.buf...)
	b.buf, b.count = b.buf[:0], 0
	return out
}

// heartbeatFrame is the frame of a node heartbeat.
func heartbeatFrame(from NodeID) []byte {
	var b frameBuilder
	return b.frame(from)
}

var errFrame = errors.New("multiraft: malformed frame")

// decodeFrame decodes a frame from an untrusted peer. Raft messages are
// copied out of b.
func decodeFrame(b []byte) (NodeID, []frameItem, error) {
	if len(b) < 8 {
		return 0, nil, errFrame
	}
	from := binary.LittleEndian.Uint64(b)
	b = b[8:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxFrameItems || n > uint64(len(b)) {
		return 0, nil, fmt.Errorf("%w: bad item count", errFrame)
	}
	b = b[k:]
	items := make([]frameItem, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(b) < 9 {
			return 0, nil, fmt.Errorf("%w: item %d truncated", errFrame, i)
		}
		kind, g := b[0], binary.LittleEndian.Uint64(b[1:])
		size, k := binary.Uvarint(b[9:])
		if k <= 0 || size > uint64(len(b)-9-k) {
			return 0, nil, fmt.Errorf("%w: item %d body length", errFrame, i)
		}
		body := b[9+k : 9+k+int(size)]
		b = b[9+k+int(size):]
		it := frameItem{group: g}
		switch kind {
		case itemRaft:
			m := &pb.Message{}
			if err := proto.Unmarshal(body, m); err != nil {
				return 0, nil, fmt.Errorf("%w: item %d: %v", errFrame, i, err)
			}
			it.msg = m
		case itemQuiesce:
			if len(body) != 16 {
				return 0, nil, fmt.Errorf("%w: item %d quiesce body", errFrame, i)
			}
			it.quiesce = true
			it.term = binary.LittleEndian.Uint64(body)
			it.commit = binary.LittleEndian.Uint64(body[8:])
		default:
			return 0, nil, fmt.Errorf("%w: item %d kind %d", errFrame, i, kind)
		}
		items = append(items, it)
	}
	if len(b) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", errFrame, len(b))
	}
	return from, items, nil
}
