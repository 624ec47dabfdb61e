package parser

// opcode identifies a client operation by its case-insensitive name.
type opcode uint8

const (
	opUnknown opcode = iota
	opPub
	opHPub
	opSub
	opUnsub
	opPing
	opPong
	opConnect
	opInfo
	opOK
	opErr
)

var opNames = [...]string{
	opUnknown: "?",
	opPub:     "PUB",
	opHPub:    "HPUB",
	opSub:     "SUB",
	opUnsub:   "UNSUB",
	opPing:    "PING",
	opPong:    "PONG",
	opConnect: "CONNECT",
	opInfo:    "INFO",
	opOK:      "+OK",
	opErr:     "-ERR",
}

// maxOpLen is the length of the longest operation name (CONNECT).
const maxOpLen = 7

func (o opcode) String() string { return opNames[o] }

// needsArgs reports whether the operation must be followed by a separator
// and arguments on the same line.
func (o opcode) needsArgs() bool {
	switch o {
	case opPing, opPong, opOK:
		return false
	}
	return true
}

// classify maps an operation name to its opcode, ignoring ASCII case.
func classify(op []byte) opcode {
	switch len(op) {
	case 3:
		switch {
		case equalFold(op, "PUB"):
			return opPub
		case equalFold(op, "SUB"):
			return opSub
		case equalFold(op, "+OK"):
			return opOK
		}
	case 4:
		switch {
		case equalFold(op, "PING"):
			return opPing
		case equalFold(op, "PONG"):
			return opPong
		case equalFold(op, "HPUB"):
			return opHPub
		case equalFold(op, "INFO"):
			return opInfo
		case equalFold(op, "-ERR"):
			return opErr
		}
	case 5:
		if equalFold(op, "UNSUB") {
			return opUnsub
		}
	case 7:
		if equalFold(op, "CONNECT") {
			return opConnect
		}
	}
	return opUnknown
}

// isOpPrefix reports whether b could still grow into a known operation name.
func isOpPrefix(b []byte) bool {
	for _, name := range opNames[1:] {
		if len(b) <= len(name) && equalFold(b, name[:len(b)]) {
			return true
		}
	}
	return false
}

// equalFold compares b with an upper-case ASCII name, ignoring case in b.
func equalFold(b []byte, upper string) bool {
	if len(b) != len(upper) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// opLength returns the length of the operation name at the start of line:
// everything up to the first space or tab.
func opLength(line []byte) int {
	for i, c := range line {
		if c == ' ' || c == '\t' {
			return i
		}
	}
	return len(line)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func trimLeadingSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func trimTrailingSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// splitArgs slices arg at runs of spaces and tabs into dst without
// allocating. It returns the number of arguments, or len(dst) when there are
// more than fit (callers treat that as too many).
func splitArgs(arg []byte, dst *[maxArgs + 1][]byte) int {
	n, start := 0, -1
	for i, c := range arg {
		if isSpace(c) {
			if start >= 0 {
				if n == len(dst) {
					return n
				}
				dst[n] = arg[start:i]
				n++
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		if n == len(dst) {
			return n
		}
		dst[n] = arg[start:]
		n++
	}
	return n
}

// maxSizeDigits keeps parseSize far from integer overflow; no payload or
// count a client may send needs more digits.
const maxSizeDigits = 12

// parseSize parses a non-negative decimal number, returning -1 for anything
// else (empty, signs, other characters, absurd lengths).
func parseSize(b []byte) int {
	if len(b) == 0 || len(b) > maxSizeDigits {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}
