package kafka

import (
	"bytes"
	"encoding/binary"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Compression of a batch's records section, as producers send it. Records
// are stored uncompressed (each is a message other protocols read), so
// only decompression is needed; fetch responses are sent uncompressed,
// which every client accepts. Every codec is bounded by a limit on the
// decompressed size so that a small batch cannot expand without end.

// Codec numbers in the batch attributes.
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

// zstdDecoder is shared: DecodeAll is safe for concurrent use.
var zstdDecoder, _ = zstd.NewReader(nil,
	zstd.WithDecoderConcurrency(0),
	zstd.WithDecoderMaxMemory(DefaultMaxRequestSize),
	zstd.WithDecoderLowmem(true))

// xerialMagic starts snappy data framed the way the Java client frames it.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func decompress(codec int8, src []byte, limit int) ([]byte, error) {
	if limit <= 0 {
		return nil, errBatch(errRecordListTooLarge, "records exceed the request size limit")
	}
	switch codec {
	case codecNone:
		if len(src) > limit {
			return nil, errBatch(errRecordListTooLarge, "records exceed the request size limit")
		}
		return src, nil
	case codecGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, errBatch(errCorruptMessage, "gzip: %v", err)
		}
		return readLimited(zr, limit, "gzip")
	case codecSnappy:
		return unsnappy(src, limit)
	case codecLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), limit, "lz4")
	case codecZstd:
		if size, err := frameContentSize(src); err == nil && size > uint64(limit) {
			return nil, errBatch(errRecordListTooLarge, "zstd records of %d bytes exceed the limit", size)
		}
		out, err := zstdDecoder.DecodeAll(src, nil)
		if err != nil {
			return nil, errBatch(errCorruptMessage, "zstd: %v", err)
		}
		if len(out) > limit {
			return nil, errBatch(errRecordListTooLarge, "records exceed the request size limit")
		}
		return out, nil
	default:
		return nil, errBatch(errUnsupportedForMessageFmt, "unknown compression codec %d", codec)
	}
}

func frameContentSize(src []byte) (uint64, error) {
	var h zstd.Header
	if err := h.Decode(src); err != nil || !h.HasFCS {
		return 0, io.ErrUnexpectedEOF
	}
	return h.FrameContentSize, nil
}

// readLimited reads a decompressing reader to its end, refusing more than
// limit bytes.
func readLimited(r io.Reader, limit int, name string) ([]byte, error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, errBatch(errCorruptMessage, "%s: %v", name, err)
	}
	if n > int64(limit) {
		return nil, errBatch(errRecordListTooLarge, "records exceed the request size limit")
	}
	return buf.Bytes(), nil
}

// unsnappy decodes a raw snappy block (librdkafka, franz-go) or the
// chunked framing the Java client writes.
func unsnappy(src []byte, limit int) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(nil, src, limit)
	}
	if len(src) < 16 {
		return nil, errBatch(errCorruptMessage, "snappy: truncated framing header")
	}
	src = src[16:] // magic, version, compatible version
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, errBatch(errCorruptMessage, "snappy: truncated chunk")
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, errBatch(errCorruptMessage, "snappy: chunk longer than the data")
		}
		var err error
		if out, err = snappyBlock(out, src[:n], limit-len(out)); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return out, nil
}

// snappyBlock appends one decoded snappy block to dst.
func snappyBlock(dst, block []byte, limit int) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, errBatch(errCorruptMessage, "snappy: %v", err)
	}
	if n > limit {
		return nil, errBatch(errRecordListTooLarge, "records exceed the request size limit")
	}
	out, err := s2.Decode(make([]byte, n), block)
	if err != nil {
		return nil, errBatch(errCorruptMessage, "snappy: %v", err)
	}
	return append(dst, out...), nil
}
