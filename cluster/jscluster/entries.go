package jscluster

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// The entries of a stream's raft group. Messages are binary (they are the
// bulk of the log); the rare control entries are JSON.
//
//	opMsgs:     op u8, first seq u64, count uvarint, then per message:
//	            seq u64, time i64, flags u8 (bit 0-1 rollup, bit 2 drop),
//	            subject, header, data (each uvarint length + bytes)
//	opDelete:   op u8, count uvarint, then first u64, last u64 per range
//	opPurge:    op u8, up-to seq u64, JSON jetstore.PurgeRequest
//	opConfig:   op u8, JSON configEntry
//	opConsumer: op u8, JSON consumerEntry
//	opStates:   op u8, JSON map consumer name -> exported state

type opKind uint8

const (
	opMsgs opKind = iota + 1
	opDelete
	opPurge
	opConfig
	opConsumer
	opStates
)

var errBadEntry = errors.New("jscluster: malformed stream entry")

func encodeMsgs(msgs []jetstore.ReplicatedMsg) []byte {
	b := make([]byte, 0, 9+msgListSize(msgs))
	b = append(b, byte(opMsgs))
	b = binary.LittleEndian.AppendUint64(b, msgs[0].Seq)
	return appendMsgList(b, msgs)
}

func msgListSize(msgs []jetstore.ReplicatedMsg) int {
	size := binary.MaxVarintLen64
	for i := range msgs {
		m := &msgs[i]
		size += 17 + 3*binary.MaxVarintLen32 + len(m.Subject) + len(m.Header) + len(m.Data)
	}
	return size
}

// appendMsgList appends a count and the messages.
func appendMsgList(b []byte, msgs []jetstore.ReplicatedMsg) []byte {
	b = binary.AppendUvarint(b, uint64(len(msgs)))
	for i := range msgs {
		m := &msgs[i]
		b = binary.LittleEndian.AppendUint64(b, m.Seq)
		b = binary.LittleEndian.AppendUint64(b, uint64(m.Time))
		flags := byte(m.Rollup) & 3
		if m.Drop {
			flags |= 4
		}
		b = append(b, flags)
		b = appendBytes(b, []byte(m.Subject))
		b = appendBytes(b, m.Header)
		b = appendBytes(b, m.Data)
	}
	return b
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// decodeMsgs decodes an opMsgs entry (without its op byte): messages with
// consecutive sequences from first on. Their slices alias b.
func decodeMsgs(b []byte) (first uint64, msgs []jetstore.ReplicatedMsg, err error) {
	if len(b) < 8 {
		return 0, nil, errBadEntry
	}
	first = binary.LittleEndian.Uint64(b)
	msgs, rest, err := decodeMsgList(b[8:])
	if err != nil {
		return 0, nil, err
	}
	if len(rest) != 0 || len(msgs) == 0 {
		return 0, nil, errBadEntry
	}
	for i := range msgs {
		if msgs[i].Seq != first+uint64(i) {
			return 0, nil, fmt.Errorf("%w: sequence %d at position %d after %d", errBadEntry, msgs[i].Seq, i, first)
		}
	}
	return first, msgs, nil
}

// decodeMsgList decodes what appendMsgList wrote, in increasing sequence
// order; it returns what follows.
func decodeMsgList(b []byte) (msgs []jetstore.ReplicatedMsg, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b))/17 {
		return nil, nil, errBadEntry
	}
	b = b[k:]
	msgs = make([]jetstore.ReplicatedMsg, n)
	for i := range msgs {
		if len(b) < 17 {
			return nil, nil, errBadEntry
		}
		m := &msgs[i]
		m.Seq = binary.LittleEndian.Uint64(b)
		m.Time = int64(binary.LittleEndian.Uint64(b[8:]))
		flags := b[16]
		if flags&^7 != 0 || flags&3 == 3 {
			return nil, nil, errBadEntry
		}
		m.Rollup, m.Drop = jetstore.RollupKind(flags&3), flags&4 != 0
		b = b[17:]
		var subj []byte
		if subj, b, err = takeBytes(b); err != nil {
			return nil, nil, err
		}
		if m.Header, b, err = takeBytes(b); err != nil {
			return nil, nil, err
		}
		if m.Data, b, err = takeBytes(b); err != nil {
			return nil, nil, err
		}
		if len(subj) == 0 || (i > 0 && m.Seq <= msgs[i-1].Seq) {
			return nil, nil, errBadEntry
		}
		m.Subject = string(subj)
		if len(m.Header) == 0 {
			m.Header = nil
		}
	}
	return msgs, b, nil
}

func takeBytes(b []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errBadEntry
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}

func encodeDelete(ranges []jetstore.SeqRange) []byte {
	b := []byte{byte(opDelete)}
	b = binary.AppendUvarint(b, uint64(len(ranges)))
	for _, r := range ranges {
		b = binary.LittleEndian.AppendUint64(b, r.First)
		b = binary.LittleEndian.AppendUint64(b, r.Last)
	}
	return b
}

func decodeDelete(b []byte) ([]jetstore.SeqRange, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b))/16 {
		return nil, errBadEntry
	}
	b = b[k:]
	if uint64(len(b)) != 16*n {
		return nil, errBadEntry
	}
	out := make([]jetstore.SeqRange, n)
	for i := range out {
		out[i] = jetstore.SeqRange{First: binary.LittleEndian.Uint64(b[16*i:]), Last: binary.LittleEndian.Uint64(b[16*i+8:])}
		if out[i].First > out[i].Last {
			return nil, errBadEntry
		}
	}
	return out, nil
}

func encodePurge(req jetstore.PurgeRequest, upTo uint64) []byte {
	b := []byte{byte(opPurge)}
	b = binary.LittleEndian.AppendUint64(b, upTo)
	js, _ := json.Marshal(req)
	return append(b, js...)
}

func decodePurge(b []byte) (jetstore.PurgeRequest, uint64, error) {
	var req jetstore.PurgeRequest
	if len(b) < 8 {
		return req, 0, errBadEntry
	}
	upTo := binary.LittleEndian.Uint64(b)
	if err := json.Unmarshal(b[8:], &req); err != nil {
		return req, 0, errBadEntry
	}
	return req, upTo, nil
}

// configEntry changes the stream's configuration; the leader that applies
// it answers Reply (an update request), if any.
type configEntry struct {
	Config jetstore.StreamConfig `json:"config"`
	Reply  string                `json:"reply,omitempty"`
}

// consumerEntry adds, updates or deletes a replicated (durable) consumer.
type consumerEntry struct {
	Delete  bool                    `json:"delete,omitempty"`
	Name    string                  `json:"name"`
	Config  jetstore.ConsumerConfig `json:"config"`
	Action  string                  `json:"action,omitempty"`
	Created time.Time               `json:"created"`
}

func encodeJSON(op opKind, v any) []byte {
	js, _ := json.Marshal(v) // plain types: cannot fail
	return append([]byte{byte(op)}, js...)
}
