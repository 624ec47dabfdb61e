package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record batches (magic 2), the unit of records in produce requests and
// fetch responses. kmsg decodes and encodes the batch and record fields;
// this file adds what the codec leaves to its user: the CRC, the length
// prefixes, the compression of the records section, and the conversion
// to and from Record.

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// Batch attribute bits.
const (
	attrCodecMask     = 0x07
	attrLogAppendTime = 0x08
	attrTransactional = 0x10
	attrControl       = 0x20
)

// batchHeaderLen is the size of a batch before its records; batchCRCStart
// the offset at which the CRC'd bytes begin.
const (
	batchHeaderLen = 61
	batchCRCStart  = 21
	minRecordLen   = 7 // length, attributes, two deltas, key, value, header count
)

// batchError is a batch the producer must not retry as it is.
type batchError struct {
	code int16
	msg  string
}

func (e *batchError) Error() string { return e.msg }

func errBatch(code int16, format string, args ...any) error {
	return &batchError{code: code, msg: fmt.Sprintf(format, args...)}
}

// producedBatch is what one partition's records section of a produce
// request decodes to.
type producedBatch struct {
	records       []Record
	producerID    int64
	producerEpoch int16
	firstSequence int32
	bytes         int // decompressed size of the records
}

// decodeProduced decodes the record batches of one partition of a produce
// request. An idempotent producer's batch must be alone, as Kafka
// requires. maxBytes bounds the records after decompression.
func decodeProduced(data []byte, maxBytes int) (producedBatch, error) {
	out := producedBatch{producerID: -1}
	first := true
	for len(data) > 0 {
		if len(data) < batchHeaderLen {
			return out, errBatch(errCorruptMessage, "record batch truncated")
		}
		n := int(int32(binary.BigEndian.Uint32(data[8:12]))) + 12
		if n < batchHeaderLen || n > len(data) {
			return out, errBatch(errCorruptMessage, "record batch length %d out of bounds", n)
		}
		raw := data[:n]
		data = data[n:]
		var b kmsg.RecordBatch
		if err := b.ReadFrom(raw); err != nil {
			return out, errBatch(errCorruptMessage, "record batch: %v", err)
		}
		if b.Magic != 2 {
			return out, errBatch(errUnsupportedForMessageFmt, "record batch magic %d (only 2 is supported)", b.Magic)
		}
		if uint32(b.CRC) != crc32.Checksum(raw[batchCRCStart:], crc32c) {
			return out, errBatch(errCorruptMessage, "record batch CRC mismatch")
		}
		if b.Attributes&(attrTransactional|attrControl) != 0 {
			return out, errBatch(errUnsupportedForMessageFmt, "transactional and control batches are not supported")
		}
		if b.ProducerID >= 0 && (!first || len(data) > 0) {
			return out, errBatch(errInvalidRequest, "an idempotent producer sends one batch per partition")
		}
		if first {
			out.producerID, out.producerEpoch, out.firstSequence = b.ProducerID, b.ProducerEpoch, b.FirstSequence
			first = false
		}
		records, err := decompress(int8(b.Attributes&attrCodecMask), b.Records, maxBytes-out.bytes)
		if err != nil {
			return out, err
		}
		out.bytes += len(records)
		if out.records, err = decodeRecords(out.records, &b, records); err != nil {
			return out, err
		}
	}
	if len(out.records) == 0 {
		return out, errBatch(errCorruptMessage, "produce request without records")
	}
	return out, nil
}

// decodeRecords appends the records of a (decompressed) batch to dst.
func decodeRecords(dst []Record, b *kmsg.RecordBatch, data []byte) ([]Record, error) {
	if b.NumRecords < 0 || int(b.NumRecords) > len(data)/minRecordLen {
		return dst, errBatch(errCorruptMessage, "record batch claims %d records in %d bytes", b.NumRecords, len(data))
	}
	for i := int32(0); i < b.NumRecords; i++ {
		l, n := binary.Varint(data)
		if n <= 0 || l < 0 || int64(len(data)-n) < l {
			return dst, errBatch(errCorruptMessage, "record %d: bad length", i)
		}
		var kr kmsg.Record
		if err := kr.ReadFrom(data[:n+int(l)]); err != nil {
			return dst, errBatch(errCorruptMessage, "record %d: %v", i, err)
		}
		data = data[n+int(l):]
		r := Record{Timestamp: b.FirstTimestamp + kr.TimestampDelta64, Key: kr.Key, Value: kr.Value}
		if b.Attributes&attrLogAppendTime != 0 {
			r.Timestamp = b.MaxTimestamp
		}
		if len(kr.Headers) > 0 {
			r.Headers = make([]RecordHeader, len(kr.Headers))
			for j, h := range kr.Headers {
				r.Headers[j] = RecordHeader{Key: h.Key, Value: h.Value}
			}
		}
		dst = append(dst, r)
	}
	if len(data) != 0 {
		return dst, errBatch(errCorruptMessage, "%d bytes after the last record of a batch", len(data))
	}
	return dst, nil
}

// appendFetchBatch renders records (ascending offsets) as one
// uncompressed batch. scratch is reused between calls.
func appendFetchBatch(dst []byte, recs []Record, scratch *[]byte) []byte {
	if len(recs) == 0 {
		return dst
	}
	first, last := recs[0], recs[len(recs)-1]
	body := (*scratch)[:0]
	maxTS := first.Timestamp
	var one []byte
	var hdrs []kmsg.Header
	for i := range recs {
		r := &recs[i]
		maxTS = max(maxTS, r.Timestamp)
		hdrs = hdrs[:0]
		for _, h := range r.Headers {
			hdrs = append(hdrs, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		kr := kmsg.Record{
			TimestampDelta64: r.Timestamp - first.Timestamp,
			OffsetDelta:      int32(r.Offset - first.Offset),
			Key:              r.Key,
			Value:            r.Value,
			Headers:          hdrs,
		}
		// The record's length prefix covers what follows it: render with
		// a zero prefix (one byte), then prefix the real length.
		one = kr.AppendTo(one[:0])
		body = binary.AppendVarint(body, int64(len(one)-1))
		body = append(body, one[1:]...)
	}
	*scratch = body
	b := kmsg.RecordBatch{
		FirstOffset:     first.Offset,
		Magic:           2,
		LastOffsetDelta: int32(last.Offset - first.Offset),
		FirstTimestamp:  first.Timestamp,
		MaxTimestamp:    maxTS,
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      int32(len(recs)),
		Records:         body,
	}
	start := len(dst)
	dst = b.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start+8:], uint32(len(dst)-start-12))
	binary.BigEndian.PutUint32(dst[start+17:], crc32.Checksum(dst[start+batchCRCStart:], crc32c))
	return dst
}
