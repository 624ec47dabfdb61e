package multiraft

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	pb "go.etcd.io/raft/v3/raftpb"
)

// The host's log is a sequence of segment files, each a 16-byte header
// (magic, segment number) followed by records:
//
//	[payload length u32][CRC-32C of payload u32][payload]
//	payload = kind u8, group u64, then by kind:
//	  entry:     term u64, index u64, entry type u8, data
//	  hardState: term u64, vote u64, commit u64
//	  snapMark:  index u64, term u64   (a snapshot replaced the whole log)
//	  drop:      -                     (the group's replica was removed)
//	  seal:      -                     (group 0; last record of a full segment)
//
// Integers are little-endian. No record is trusted without its checksum.

const (
	segmentMagic     = "MRLOG\x00\x00\x01"
	segmentHeaderLen = 16
	recordHeaderLen  = 8
	// maxRecordLen bounds a record's payload so that a corrupt length cannot
	// make recovery allocate or skip gigabytes.
	maxRecordLen = 64 << 20
)

type recordKind byte

const (
	kindEntry recordKind = iota + 1
	kindHardState
	kindSnapMark
	kindDrop
	kindSeal
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is one decoded log record.
type record struct {
	kind   recordKind
	group  GroupID
	term   uint64
	index  uint64 // entry index or snapshot index
	vote   uint64
	commit uint64
	etype  pb.EntryType
	data   []byte // aliases the segment buffer
}

func appendSegmentHeader(dst []byte, seq uint64) []byte {
	dst = append(dst, segmentMagic...)
	return binary.LittleEndian.AppendUint64(dst, seq)
}

// beginRecord reserves the record header and writes kind and group; finish
// with endRecord.
func beginRecord(dst []byte, kind recordKind, g GroupID) ([]byte, int) {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderLen)...)
	dst = append(dst, byte(kind))
	return binary.LittleEndian.AppendUint64(dst, g), start
}

func endRecord(dst []byte, start int) []byte {
	payload := dst[start+recordHeaderLen:]
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(payload, crcTable))
	return dst
}

func appendEntryRecord(dst []byte, g GroupID, e *pb.Entry) []byte {
	dst, start := beginRecord(dst, kindEntry, g)
	dst = binary.LittleEndian.AppendUint64(dst, e.GetTerm())
	dst = binary.LittleEndian.AppendUint64(dst, e.GetIndex())
	dst = append(dst, byte(e.GetType()))
	dst = append(dst, e.GetData()...)
	return endRecord(dst, start)
}

func appendHardStateRecord(dst []byte, g GroupID, hs *pb.HardState) []byte {
	dst, start := beginRecord(dst, kindHardState, g)
	dst = binary.LittleEndian.AppendUint64(dst, hs.GetTerm())
	dst = binary.LittleEndian.AppendUint64(dst, hs.GetVote())
	dst = binary.LittleEndian.AppendUint64(dst, hs.GetCommit())
	return endRecord(dst, start)
}

func appendSnapMarkRecord(dst []byte, g GroupID, index, term uint64) []byte {
	dst, start := beginRecord(dst, kindSnapMark, g)
	dst = binary.LittleEndian.AppendUint64(dst, index)
	dst = binary.LittleEndian.AppendUint64(dst, term)
	return endRecord(dst, start)
}

func appendBareRecord(dst []byte, kind recordKind, g GroupID) []byte {
	dst, start := beginRecord(dst, kind, g)
	return endRecord(dst, start)
}

var (
	errShortRecord = errors.New("record runs past the end of the segment")
	errBadChecksum = errors.New("record checksum mismatch")
)

// decodeRecord decodes the record at the start of b and returns it with its
// encoded length. errShortRecord means b ends inside the record (a torn
// write); any other error means the bytes are not a valid record.
func decodeRecord(b []byte) (record, int, error) {
	var r record
	if len(b) < recordHeaderLen {
		return r, 0, errShortRecord
	}
	n := binary.LittleEndian.Uint32(b)
	if n > maxRecordLen {
		return r, 0, fmt.Errorf("record length %d exceeds the limit %d", n, maxRecordLen)
	}
	total := recordHeaderLen + int(n)
	if len(b) < total {
		return r, 0, errShortRecord
	}
	payload := b[recordHeaderLen:total]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return r, 0, errBadChecksum
	}
	if len(payload) < 9 {
		return r, 0, fmt.Errorf("record payload of %d bytes is too short", len(payload))
	}
	r.kind = recordKind(payload[0])
	r.group = binary.LittleEndian.Uint64(payload[1:])
	body := payload[9:]
	min := bodyLen(r.kind)
	if min < 0 {
		return r, 0, fmt.Errorf("unknown record kind %d", r.kind)
	}
	if len(body) < min || (r.kind != kindEntry && len(body) != min) {
		return r, 0, fmt.Errorf("record kind %d has a body of %d bytes", r.kind, len(body))
	}
	switch r.kind {
	case kindEntry:
		r.term = binary.LittleEndian.Uint64(body)
		r.index = binary.LittleEndian.Uint64(body[8:])
		r.etype = pb.EntryType(body[16])
		r.data = body[17:]
	case kindHardState:
		r.term = binary.LittleEndian.Uint64(body)
		r.vote = binary.LittleEndian.Uint64(body[8:])
		r.commit = binary.LittleEndian.Uint64(body[16:])
	case kindSnapMark:
		r.index = binary.LittleEndian.Uint64(body)
		r.term = binary.LittleEndian.Uint64(body[8:])
	}
	return r, total, nil
}

// bodyLen is the fixed body length of a record kind (an entry's is its
// minimum), or -1 for an unknown kind.
func bodyLen(k recordKind) int {
	switch k {
	case kindEntry:
		return 17
	case kindHardState:
		return 24
	case kindSnapMark:
		return 16
	case kindDrop, kindSeal:
		return 0
	}
	return -1
}
