package broker

import (
	"bytes"
	"strconv"

	"github.com/midgemq/midge/parser"
)

// Protocol tracing (-V), in the reference server's line format so that
// tools and people grepping traces find the same text: an inbound operation
// is `<<- [SUB foo 1]`, a message body `<<- MSG_PAYLOAD: ["hello"]`, each
// outbound control line `->> [MSG foo 1 5]` and its body
// `->> MSG_PAYLOAD: ["hello"]`. Payloads are cut at traceArgLimit bytes. Callers check c.trace (inbound) or rely on the
// writer's per-flush check (outbound), so nothing is built when tracing is
// off.

// traceArgLimit keeps a traced payload from flooding the log.
const traceArgLimit = 256

// traceOutLimit bounds the bytes of one flush that are traced.
const traceOutLimit = 4096

// traceIn logs one inbound operation with its arguments.
func (c *client) traceIn(op string, args ...[]byte) {
	line := append(make([]byte, 0, 64), "<<- ["...)
	line = append(line, op...)
	for _, a := range args {
		if a == nil {
			continue
		}
		line = append(line, ' ')
		line = append(line, a[:min(len(a), traceArgLimit)]...)
	}
	line = append(line, ']')
	c.traceLog(string(line))
}

// traceLog logs one trace line with the connection it belongs to, which
// the reference format shows as `127.0.0.1:52234 - cid:5 - `.
func (c *client) traceLog(line string) {
	remote := ""
	if c.conn != nil {
		remote = c.conn.RemoteAddr().String()
	}
	c.broker.log.Debug(line, "remote", remote, "cid", c.cid)
}

// tracePub logs a PUB or HPUB and its body.
func (c *client) tracePub(pa *parser.PubArg) {
	size := strconv.AppendInt(nil, int64(pa.Size), 10)
	if pa.Header != nil {
		hdr := strconv.AppendInt(nil, int64(len(pa.Header)), 10)
		c.traceIn("HPUB", pa.Subject, pa.Reply, hdr, size)
	} else {
		c.traceIn("PUB", pa.Subject, pa.Reply, size)
	}
	body := append(append([]byte(nil), pa.Header...), pa.Data...)
	c.traceLog(`<<- MSG_PAYLOAD: [` + strconv.Quote(string(body[:min(len(body), traceArgLimit)])) + `]`)
}

// traceOut logs the control lines of what the writer is about to send,
// each message's body on a line of its own (cut at traceArgLimit).
func (c *client) traceOut(iov [][]byte) {
	var out []byte
	for _, b := range iov {
		out = append(out, b[:min(len(b), traceOutLimit-len(out))]...)
		if len(out) >= traceOutLimit {
			break
		}
	}
	for len(out) > 0 {
		end := bytes.Index(out, []byte("\r\n"))
		if end < 0 {
			return // cut at the limit
		}
		line := out[:end]
		out = out[end+2:]
		c.traceLog("->> [" + string(line) + "]")
		if n := bodySize(line); n >= 0 {
			body := out[:min(len(out), n, traceArgLimit)]
			c.traceLog(`->> MSG_PAYLOAD: [` + strconv.Quote(string(body)) + `]`)
			out = out[min(len(out), n+2):]
		}
	}
}

// bodySize is the size of the body that follows a MSG or HMSG line, -1 for
// other lines.
func bodySize(line []byte) int {
	if !bytes.HasPrefix(line, []byte("MSG ")) && !bytes.HasPrefix(line, []byte("HMSG ")) {
		return -1
	}
	n, err := strconv.Atoi(string(line[bytes.LastIndexByte(line, ' ')+1:]))
	if err != nil {
		return -1
	}
	return n
}
