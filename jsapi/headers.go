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
// <transform destination> <original subject>".
func (storeHeaders) SourcePosition(hdr []byte) (string, uint64, bool) {
	v := parser.HeaderValue(hdr, hdrStreamSource)
	if v == nil {
		return "", 0, false
	}
	f := strings.Fields(string(v))
	if len(f) < 4 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return f[0] + " " + f[2] + " " + f[3], seq, true
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
