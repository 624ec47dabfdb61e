package parser

import "bytes"

// Header blocks ("NATS/1.0[ code [description]]\r\nKey: Value\r\n...\r\n")
// arrive from untrusted clients, so every function here tolerates any input.

// HeaderPrefix starts every header block.
const HeaderPrefix = "NATS/1.0"

// HeaderValue returns the first value of key in a header block, with leading
// spaces and tabs trimmed, or nil when the key is absent. Keys are matched
// exactly: NATS header keys are case-sensitive.
func HeaderValue(hdr []byte, key string) []byte {
	v, _ := headerLookup(hdr, key)
	return v
}

// HasHeader reports whether key appears in the header block.
func HasHeader(hdr []byte, key string) bool {
	_, ok := headerLookup(hdr, key)
	return ok
}

func headerLookup(hdr []byte, key string) ([]byte, bool) {
	if len(key) == 0 {
		return nil, false
	}
	lines := hdr
	// Skip the status line.
	if i := bytes.IndexByte(lines, '\n'); i >= 0 {
		lines = lines[i+1:]
	} else {
		return nil, false
	}
	for len(lines) > 0 {
		var line []byte
		if i := bytes.IndexByte(lines, '\n'); i >= 0 {
			line, lines = lines[:i], lines[i+1:]
		} else {
			line, lines = lines, nil
		}
		line = bytes.TrimSuffix(line, CRLF[:1])
		if len(line) <= len(key) || line[len(key)] != ':' || string(line[:len(key)]) != key {
			continue
		}
		return trimLeadingSpace(line[len(key)+1:]), true
	}
	return nil, false
}

// HeaderStatus returns the status code and description on the first line of
// a header block ("NATS/1.0 503" gives 503), or 0 when there is none.
func HeaderStatus(hdr []byte) (code int, description []byte) {
	if !bytes.HasPrefix(hdr, []byte(HeaderPrefix)) {
		return 0, nil
	}
	line := hdr[len(HeaderPrefix):]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = trimTrailingSpace(bytes.TrimSuffix(line, CRLF[:1]))
	line = trimLeadingSpace(line)
	if len(line) < 3 {
		return 0, nil
	}
	code = parseSize(line[:3])
	if code < 0 || (len(line) > 3 && !isSpace(line[3])) {
		return 0, nil
	}
	return code, trimLeadingSpace(line[3:])
}
