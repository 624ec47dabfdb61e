package jetstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// On-disk records. Every block file is a sequence of records, each framed
// and checksummed on its own so that recovery can tell a torn or damaged
// record from a good one and keep everything else:
//
//	u32  length   bytes that follow this field, checksum included
//	u8   kind
//	...  body     (by kind, below)
//	u32  crc32c   Castagnoli checksum of kind and body
//
//	kindMsg:    u64 seq, i64 unix-ns time, u16 subject length,
//	            u32 header length, subject, header, data
//	kindDelete: u32 n, then n × (u64 first, u64 last): sequences deleted
//	kindFloor:  u64 floor: every sequence below floor is gone (purge)
//
// Stream features add kindSources (source_state.go), kindBatch (batch.go)
// and kindMsgS2 (compress.go), written only by streams that use them.
//
// Integers are little endian. A record is never trusted without its
// checksum, on recovery and on every read.
const (
	kindMsg    byte = 1
	kindDelete byte = 2
	kindFloor  byte = 3
)

const (
	recordHeaderLen = 4 + 1 // length, kind
	recordCRCLen    = 4     // trailing checksum
	msgFixedLen     = 8 + 8 + 2 + 4
	// maxRecordLen bounds the length field so that a damaged one cannot make
	// recovery allocate or skip absurd amounts.
	maxRecordLen  = 64 << 20
	maxSubjectLen = 1<<16 - 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var (
	errTornRecord    = errors.New("jetstore: record is incomplete")
	errCorruptRecord = errors.New("jetstore: record is corrupt")
)

// record is a decoded record. For messages the slices alias the buffer it
// was decoded from.
type record struct {
	kind    byte
	seq     uint64 // kindMsg: the sequence; kindFloor: the floor
	ts      int64
	subject []byte
	header  []byte
	data    []byte
	ranges  []seqRange           // kindDelete
	sources map[string]sourcePos // kindSources (source_state.go)
	count   int                  // kindBatch: messages in the batch (batch.go)
}

type seqRange struct{ first, last uint64 }

// msgRecordLen is the encoded size of a message record.
func msgRecordLen(subject string, header, data []byte) int {
	return recordHeaderLen + msgFixedLen + len(subject) + len(header) + len(data) + recordCRCLen
}

// appendMsgRecord encodes a message record onto dst.
func appendMsgRecord(dst []byte, seq uint64, ts int64, subject string, header, data []byte) []byte {
	return appendMsgRecordOf(dst, kindMsg, seq, ts, subject, header, data)
}

// appendMsgRecordOf encodes a message record of kind (kindMsg, or
// kindMsgS2 with data compressed) onto dst.
func appendMsgRecordOf(dst []byte, kind byte, seq uint64, ts int64, subject string, header, data []byte) []byte {
	start := len(dst)
	body := msgFixedLen + len(subject) + len(header) + len(data)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+body+recordCRCLen))
	dst = append(dst, kind)
	dst = binary.LittleEndian.AppendUint64(dst, seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ts))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(len(subject)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(header)))
	dst = append(dst, subject...)
	dst = append(dst, header...)
	dst = append(dst, data...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], crcTable))
}

// appendDeleteRecord encodes a record deleting the given sequence ranges.
func appendDeleteRecord(dst []byte, ranges []seqRange) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+4+16*len(ranges)+recordCRCLen))
	dst = append(dst, kindDelete)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(ranges)))
	for _, r := range ranges {
		dst = binary.LittleEndian.AppendUint64(dst, r.first)
		dst = binary.LittleEndian.AppendUint64(dst, r.last)
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], crcTable))
}

// appendFloorRecord encodes a purge floor.
func appendFloorRecord(dst []byte, floor uint64) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(1+8+recordCRCLen))
	dst = append(dst, kindFloor)
	dst = binary.LittleEndian.AppendUint64(dst, floor)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start+4:], crcTable))
}

// decodeRecord decodes the record at the start of b and returns its total
// encoded length. errTornRecord means b ends inside the record (a write
// that never finished); errCorruptRecord means the bytes are not a valid
// record.
func decodeRecord(b []byte) (record, int, error) {
	var r record
	if len(b) < 4 {
		return r, 0, errTornRecord
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 1+recordCRCLen || n > maxRecordLen {
		return r, 0, errCorruptRecord
	}
	total := 4 + n
	if len(b) < total {
		return r, 0, errTornRecord
	}
	payload := b[4 : total-recordCRCLen]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[total-recordCRCLen:total]) {
		return r, 0, errCorruptRecord
	}
	r.kind = payload[0]
	body := payload[1:]
	var err error
	switch r.kind {
	case kindMsg:
		err = r.decodeMsg(body)
	case kindMsgS2:
		if err = r.decodeMsg(body); err == nil {
			err = r.decompress()
		}
	case kindDelete:
		err = r.decodeDelete(body)
	case kindSources:
		err = r.decodeSources(body)
	case kindBatch:
		err = r.decodeBatch(body)
	case kindFloor:
		if len(body) != 8 {
			err = errCorruptRecord
		} else {
			r.seq = binary.LittleEndian.Uint64(body)
		}
	default:
		err = errCorruptRecord
	}
	if err != nil {
		return record{}, 0, err
	}
	return r, total, nil
}

func (r *record) decodeMsg(body []byte) error {
	if len(body) < msgFixedLen {
		return errCorruptRecord
	}
	r.seq = binary.LittleEndian.Uint64(body)
	r.ts = int64(binary.LittleEndian.Uint64(body[8:]))
	sl := int(binary.LittleEndian.Uint16(body[16:]))
	hl := int(binary.LittleEndian.Uint32(body[18:]))
	rest := body[msgFixedLen:]
	if sl == 0 || sl > len(rest) || hl > len(rest)-sl {
		return errCorruptRecord
	}
	r.subject = rest[:sl:sl]
	r.header = rest[sl : sl+hl : sl+hl]
	r.data = rest[sl+hl:]
	if hl == 0 {
		r.header = nil
	}
	return nil
}

func (r *record) decodeDelete(body []byte) error {
	if len(body) < 4 {
		return errCorruptRecord
	}
	n := int(binary.LittleEndian.Uint32(body))
	if len(body) != 4+16*n {
		return errCorruptRecord
	}
	r.ranges = make([]seqRange, n)
	for i := range r.ranges {
		off := 4 + 16*i
		r.ranges[i] = seqRange{
			first: binary.LittleEndian.Uint64(body[off:]),
			last:  binary.LittleEndian.Uint64(body[off+8:]),
		}
		if r.ranges[i].first > r.ranges[i].last {
			return errCorruptRecord
		}
	}
	return nil
}
