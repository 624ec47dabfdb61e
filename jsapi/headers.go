package jsapi

import (
	"bytes"
	"strconv"
	"strings"
	"time"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
)

// The stored headers the store acts on (jetstore.Headers): per-message
// TTLs, delete markers and the source of a copied message.

const (
	hdrMarkerReason = "Nats-Marker-Reason"
	hdrStreamSource = "Nats-Stream-Source"
	hdrIncr         = "Nats-Incr"
	hdrKVOperation  = "KV-Operation"
)

// storeHeaders implements jetstore.Headers.
type storeHeaders struct{}

var _ jetstore.Headers = storeHeaders{}

func (storeHeaders) MessageTTL(hdr []byte) (time.Duration, bool) {
	v := parser.HeaderValue(hdr, hdrTTL)
	if v == nil {
		return 0, false
	}
	ttl, invalid := parseTTL(v)
	return ttl, !invalid && ttl != 0
}

func (storeHeaders) IsDeleteMarker(hdr []byte) bool {
	return len(parser.HeaderValue(hdr, hdrMarkerReason)) > 0 ||
		bytes.Equal(parser.HeaderValue(hdr, hdrKVOperation), []byte("PURGE"))
}

func (storeHeaders) DeleteMarker(reason string, ttl time.Duration) []byte {
	b := []byte("NATS/1.0\r\n" + hdrMarkerReason + ": ")
	b = append(b, reason...)
	b = append(b, "\r\n"+hdrTTL+": "...)
	b = append(b, ttl.String()...)
	return append(b, "\r\n"+hdrRollup+": sub\r\n\r\n"...)
}

// SourcePosition reads Nats-Stream-Source: "<stream> <seq> <filter>
// <transform destination> <original subject> [<origin identity>]".
func (storeHeaders) SourcePosition(hdr []byte) (string, uint64, string, bool) {
	v := parser.HeaderValue(hdr, hdrStreamSource)
	if v == nil {
		return "", 0, "", false
	}
	f := strings.Fields(string(v))
	if len(f) < 4 {
		return "", 0, "", false
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return "", 0, "", false
	}
	ident := ""
	if len(f) >= 6 {
		ident = f[5]
	}
	return f[0] + " " + f[2] + " " + f[3], seq, ident, true
}

// parseTTL reads a Nats-TTL value as the reference server does: "never"
// (negative: never expire), a Go duration of at least a second, or whole
// seconds, where zero means no TTL; anything else, and a duration below a
// second ("0" among them), is invalid.
func parseTTL(v []byte) (ttl time.Duration, invalid bool) {
	s := string(v)
	if strings.EqualFold(s, "never") {
		return -1, false
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < time.Second {
			return 0, true
		}
		return d.Truncate(time.Second), false
	}
	n, err := strconv.ParseUint(s, 10, 62)
	if err != nil || n > uint64(1<<62)/uint64(time.Second) {
		return 0, true
	}
	return time.Duration(n) * time.Second, false
}

// Sourced strips what must not follow a message into the stream that
// sources it (an earlier source's header, the publisher's expectations,
// batch headers) and adds Nats-Stream-Source: "<stream> <seq> <filter>
// <transform destination> <original subject> <origin identity>", the
// key's three fields around the sequence.
func (storeHeaders) Sourced(hdr []byte, key string, seq uint64, subject, ident string) ([]byte, *jetstore.PublishOptions) {
	name, rest, _ := strings.Cut(key, " ")
	filter, dest, _ := strings.Cut(rest, " ")
	out := make([]byte, 0, len(hdr)+len(key)+len(subject)+48)
	out = appendFilteredHeader(out, hdr, func(k []byte) bool {
		return string(k) == hdrStreamSource || bytes.HasPrefix(k, []byte("Nats-Expected-")) || bytes.HasPrefix(k, []byte("Nats-Batch-"))
	})
	out = append(out, hdrStreamSource+": "...)
	out = append(out, name...)
	out = append(out, ' ')
	out = strconv.AppendUint(out, seq, 10)
	out = append(out, ' ')
	out = append(out, filter...)
	out = append(out, ' ')
	out = append(out, dest...)
	out = append(out, ' ')
	out = append(out, subject...)
	if ident != "" {
		out = append(out, ' ')
		out = append(out, ident...)
	}
	out = append(out, "\r\n\r\n"...)
	var o *jetstore.PublishOptions
	if id := parser.HeaderValue(hdr, hdrMsgID); len(id) > 0 {
		o = &jetstore.PublishOptions{MsgID: string(id)}
	}
	if ttl, ok := (storeHeaders{}).MessageTTL(hdr); ok {
		if o == nil {
			o = &jetstore.PublishOptions{}
		}
		o.HasTTL, o.TTL = true, ttl
	}
	return out, o
}

// appendFilteredHeader appends the header block hdr (or an empty one)
// without its closing blank line and without the headers drop selects.
func appendFilteredHeader(dst, hdr []byte, drop func(key []byte) bool) []byte {
	nl := bytes.IndexByte(hdr, '\n')
	if len(hdr) < 4 || nl < 0 {
		return append(dst, "NATS/1.0\r\n"...)
	}
	dst = append(dst, hdr[:nl+1]...) // the status line
	for rest := hdr[nl+1:]; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i+1], rest[i+1:]
		} else {
			rest = nil
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			continue // the closing blank line
		}
		if k, _, ok := bytes.Cut(trimmed, []byte(":")); ok && drop(k) {
			continue
		}
		dst = append(dst, trimmed...)
		dst = append(dst, "\r\n"...)
	}
	return dst
}
