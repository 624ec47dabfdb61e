package kafka

import (
	"bytes"
	"encoding/base64"
	"strconv"
	"strings"
)

// The mapping between Kafka records and stream messages. It is the part of
// the design other protocols see, so it is plain text wherever it can be:
//
//   - A record of partition p of topic t is a message on subject "t.p".
//   - Its value is the message data. A null value (a tombstone) is empty
//     data plus the header "Kafka-Null-Value: true".
//   - Its key is the header "Kafka-Key" when the key is printable ASCII
//     without leading or trailing blanks, else "Kafka-Key-B64" with the
//     key in standard base64. No key header means a null key.
//   - Its timestamp (milliseconds) is "Kafka-Timestamp". Without it, as for
//     messages published by NATS or MQTT clients, a record's timestamp is
//     the time the stream stored it.
//   - Each Kafka header is a NATS header of the same name and value, in
//     order, when the name is printable ASCII without ':' (and does not
//     start with "Kafka-") and the value is printable ASCII without leading
//     or trailing blanks. Any other header is "Kafka-Header-B64" with the
//     value "<base64 name>:<base64 value>", or just "<base64 name>" for a
//     null value.
//   - The last record of an idempotent producer's batch carries
//     "Kafka-Producer: <producer id> <epoch> <first> <last sequence>" so that the
//     producer's position survives a restart.
//
// A message published by another protocol therefore reads, in Kafka, as a
// record with a null key, the stored time as timestamp, and each NATS
// header as a Kafka header; setting "Kafka-Key" on a NATS publish gives it
// a key.
const (
	hdrKey       = "Kafka-Key"
	hdrKeyB64    = "Kafka-Key-B64"
	hdrTimestamp = "Kafka-Timestamp"
	hdrNullValue = "Kafka-Null-Value"
	hdrEscaped   = "Kafka-Header-B64"
	hdrProducer  = "Kafka-Producer"

	reservedPrefix = "kafka-"
	natsHdrLine    = "NATS/1.0\r\n"
)

// PartitionSubject is the subject that carries a partition's records.
func PartitionSubject(topic string, partition int32) string {
	return topic + "." + strconv.FormatInt(int64(partition), 10)
}

// producerMark identifies an idempotent producer's last record of a batch.
type producerMark struct {
	id          int64
	epoch       int16
	first, last int32
}

// appendRecordHeader renders a record's NATS header block into dst. It
// always writes one (the timestamp at least).
func appendRecordHeader(dst []byte, r *Record, mark *producerMark) []byte {
	dst = append(dst, natsHdrLine...)
	if r.Key != nil {
		if headerSafeValue(r.Key) {
			dst = appendHeaderLine(dst, hdrKey, r.Key)
		} else {
			dst = appendB64HeaderLine(dst, hdrKeyB64, r.Key)
		}
	}
	dst = append(dst, hdrTimestamp+": "...)
	dst = strconv.AppendInt(dst, r.Timestamp, 10)
	dst = append(dst, "\r\n"...)
	if r.Value == nil {
		dst = append(dst, hdrNullValue+": true\r\n"...)
	}
	for _, h := range r.Headers {
		if h.Value != nil && headerSafeName(h.Key) && headerSafeValue(h.Value) {
			dst = append(dst, h.Key...)
			dst = append(dst, ": "...)
			dst = append(dst, h.Value...)
			dst = append(dst, "\r\n"...)
			continue
		}
		dst = append(dst, hdrEscaped+": "...)
		dst = base64.StdEncoding.AppendEncode(dst, []byte(h.Key))
		if h.Value != nil {
			dst = append(dst, ':')
			dst = base64.StdEncoding.AppendEncode(dst, h.Value)
		}
		dst = append(dst, "\r\n"...)
	}
	if mark != nil {
		dst = append(dst, hdrProducer+": "...)
		dst = strconv.AppendInt(dst, mark.id, 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(mark.epoch), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(mark.first), 10)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(mark.last), 10)
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

func appendHeaderLine(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}

func appendB64HeaderLine(dst []byte, name string, value []byte) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = base64.StdEncoding.AppendEncode(dst, value)
	return append(dst, "\r\n"...)
}

// headerSafeName reports whether a Kafka header name can be a NATS header
// name as it is.
func headerSafeName(s string) bool {
	if s == "" || len(s) >= len(reservedPrefix) && strings.EqualFold(s[:len(reservedPrefix)], reservedPrefix) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == ':' {
			return false
		}
	}
	return true
}

// headerSafeValue reports whether a value survives a NATS header line
// unchanged: printable ASCII, not starting or ending with a blank (header
// parsers trim them).
func headerSafeValue(b []byte) bool {
	if len(b) > 0 && (b[0] == ' ' || b[len(b)-1] == ' ') {
		return false
	}
	for _, c := range b {
		if c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// decodeMessage turns a stored message into a record. storedMs is the
// time the stream stored it. The record's headers are appended to arena
// (shared by the records of one fetch) and sliced out of it.
func decodeMessage(header, data []byte, storedMs int64, offset int64, arena *[]RecordHeader) Record {
	r := Record{Offset: offset, Timestamp: storedMs, Value: data}
	if r.Value == nil {
		r.Value = []byte{}
	}
	if len(header) == 0 {
		return r
	}
	start := len(*arena)
	hdrs := *arena
	lines := header
	if i := bytes.Index(lines, []byte("\r\n")); i >= 0 {
		lines = lines[i+2:] // the status line
	} else {
		return r
	}
	for len(lines) > 0 {
		i := bytes.Index(lines, []byte("\r\n"))
		var line []byte
		if i < 0 {
			line, lines = lines, nil
		} else {
			line, lines = lines[:i], lines[i+2:]
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		value := bytes.TrimSpace(line[colon+1:])
		if value == nil {
			value = []byte{} // empty, not null
		}
		switch string(name) {
		case hdrKey:
			r.Key = value
		case hdrKeyB64:
			if k, err := base64.StdEncoding.DecodeString(string(value)); err == nil {
				r.Key = k
			} else {
				r.Key = value
			}
		case hdrTimestamp:
			if ts, err := strconv.ParseInt(string(value), 10, 64); err == nil {
				r.Timestamp = ts
			}
		case hdrNullValue:
			if string(value) == "true" && len(data) == 0 {
				r.Value = nil
			}
		case hdrProducer:
		case hdrEscaped:
			if h, ok := decodeEscapedHeader(value); ok {
				hdrs = append(hdrs, h)
			}
		default:
			hdrs = append(hdrs, RecordHeader{Key: string(name), Value: value})
		}
	}
	*arena = hdrs
	if len(hdrs) > start {
		r.Headers = hdrs[start:len(hdrs):len(hdrs)]
	}
	return r
}

func decodeEscapedHeader(v []byte) (RecordHeader, bool) {
	k, val, hasValue := bytes.Cut(v, []byte(":"))
	key, err := base64.StdEncoding.DecodeString(string(k))
	if err != nil {
		return RecordHeader{}, false
	}
	h := RecordHeader{Key: string(key)}
	if hasValue {
		if h.Value, err = base64.StdEncoding.DecodeString(string(val)); err != nil {
			return RecordHeader{}, false
		}
		if h.Value == nil {
			h.Value = []byte{}
		}
	}
	return h, true
}

// parseProducerMark reads a Kafka-Producer header value.
func parseProducerMark(v []byte) (producerMark, bool) {
	f := strings.Fields(string(v))
	if len(f) != 4 {
		return producerMark{}, false
	}
	id, err1 := strconv.ParseInt(f[0], 10, 64)
	epoch, err2 := strconv.ParseInt(f[1], 10, 16)
	first, err3 := strconv.ParseInt(f[2], 10, 32)
	last, err4 := strconv.ParseInt(f[3], 10, 32)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return producerMark{}, false
	}
	return producerMark{id: id, epoch: int16(epoch), first: int32(first), last: int32(last)}, true
}

// recordSize is the size Fetch budgets a record at.
func recordSize(r *Record) int {
	n := len(r.Key) + len(r.Value) + 24
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value) + 4
	}
	return n
}
