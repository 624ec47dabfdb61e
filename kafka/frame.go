package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Framing: every request and response is a big-endian int32 size followed
// by that many bytes. A request starts with its header (api key, version,
// correlation id, client id and, for flexible versions, tagged fields);
// kmsg decodes the body that follows.

// readFrame reads one size-prefixed frame of at most max bytes. The buffer
// grows with the bytes that actually arrive, so a size prefix alone never
// makes it allocate more than it received.
func readFrame(r io.Reader, max int32) ([]byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(size[:]))
	if n < 0 || n > max {
		return nil, fmt.Errorf("frame of %d bytes exceeds the limit of %d", n, max)
	}
	if n <= 64<<10 {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, noEOF(err)
	}
	var b bytes.Buffer
	b.Grow(64 << 10)
	if _, err := io.CopyN(&b, r, int64(n)); err != nil {
		return nil, noEOF(err)
	}
	return b.Bytes(), nil
}

// noEOF turns an EOF inside a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// requestHeader is the part of a request every API shares.
type requestHeader struct {
	key           int16
	version       int16
	correlationID int32
	clientID      string
}

// Errors parseRequest returns; each says how the connection answers.
var (
	// errShortHeader: not even a correlation id to answer with.
	errShortHeader = errors.New("request shorter than its header")
	// errUnknownAPI: a key or version kmsg cannot decode; unanswerable in
	// the requested version.
	errUnknownAPI = errors.New("unknown api key or version")
)

// parseRequest decodes a request frame. It returns the header whenever the
// header itself could be read, so that errors can be answered.
func parseRequest(frame []byte) (requestHeader, kmsg.Request, error) {
	var h requestHeader
	if len(frame) < 8 {
		return h, nil, errShortHeader
	}
	h.key = int16(binary.BigEndian.Uint16(frame))
	h.version = int16(binary.BigEndian.Uint16(frame[2:]))
	h.correlationID = int32(binary.BigEndian.Uint32(frame[4:]))
	req := kmsg.RequestForKey(h.key)
	if req == nil || h.version < 0 || h.version > req.MaxVersion() {
		return h, nil, errUnknownAPI
	}
	req.SetVersion(h.version)
	rest := frame[8:]
	if len(rest) < 2 {
		return h, nil, errors.New("request header has no client id")
	}
	idLen := int16(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if idLen > 0 {
		if int(idLen) > len(rest) {
			return h, nil, errors.New("client id longer than the request")
		}
		h.clientID = string(rest[:idLen])
		rest = rest[idLen:]
	}
	if req.IsFlexible() {
		var err error
		if rest, err = skipTags(rest); err != nil {
			return h, nil, err
		}
	}
	if err := req.ReadFrom(rest); err != nil {
		return h, nil, fmt.Errorf("malformed %s v%d: %w", kmsg.NameForKey(h.key), h.version, err)
	}
	return h, req, nil
}

// skipTags skips a tagged-field section: a count, then for each field a
// tag and a size-prefixed value.
func skipTags(b []byte) ([]byte, error) {
	n, b, err := uvarint(b)
	if err != nil {
		return nil, err
	}
	for i := uint64(0); i < n; i++ {
		if _, b, err = uvarint(b); err != nil { // tag
			return nil, err
		}
		var size uint64
		if size, b, err = uvarint(b); err != nil {
			return nil, err
		}
		if size > uint64(len(b)) {
			return nil, errors.New("tagged field longer than the request")
		}
		b = b[size:]
	}
	return b, nil
}

func uvarint(b []byte) (uint64, []byte, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, errors.New("bad varint in request header")
	}
	return v, b[n:], nil
}

// appendResponse renders a response frame. ApiVersions responses always
// use the first header version (no tagged fields), so that a client can
// read them before it knows which versions the broker speaks.
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != keyApiVersions {
		dst = append(dst, 0)
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// errorResponse builds the response to a request that is refused as a
// whole: the requested kind and version with code in its top-level error
// field, when it has one, and empty otherwise (clients then see every
// topic they asked about as missing). ok is false when no response of
// that version can be built.
func errorResponse(key, version int16, code int16) (kmsg.Response, bool) {
	if key == keyApiVersions {
		// Clients retry ApiVersions at v0 after reading our ranges.
		return apiVersionsResponse(0, code), true
	}
	resp := kmsg.ResponseForKey(key)
	if resp == nil || version < 0 || version > resp.MaxVersion() {
		return nil, false
	}
	resp.SetVersion(version)
	if f := reflect.ValueOf(resp).Elem().FieldByName("ErrorCode"); f.IsValid() && f.CanSet() && f.Kind() == reflect.Int16 {
		f.SetInt(int64(code))
	}
	return resp, true
}
