package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"
)

// Log formats --log_format (or log_format in a file) chooses between.
const (
	// logFormatConsole is zap's console encoder: ISO 8601 time, level,
	// message and the fields as JSON.
	logFormatConsole = "console"
	// logFormatReference is nats-server's line format, for people and
	// tools used to its logs:
	//
	//	[4242] 2026/12/05 13:00:43.442320 [INF] Server is ready
	//	[4242] 2026/12/05 13:00:43.613990 [TRC] cid:5 - <<- [SUB foo 1]
	logFormatReference = "reference"
)

// referenceTimeLayout is the reference server's timestamp: local time with
// microseconds.
const referenceTimeLayout = "2006/01/02 15:04:05.000000"

// refBufferPool recycles the lines' buffers.
var refBufferPool = buffer.NewPool()

// referenceEncoder writes zap entries in the reference server's line
// format: the process id in brackets, the time, the level as three letters
// in brackets, then the connection the line is about (remote address and
// cid, as the reference prefixes them) and the message. Protocol traces
// (-V), logged at debug level as lines starting with an arrow, get the
// reference's TRC level. Other fields follow the message as key=value.
type referenceEncoder struct {
	*zapcore.MapObjectEncoder // fields added with With
	pid                       int
	noTime, utc               bool // logtime: false; logtime_utc
}

func newReferenceEncoder(pid int, noTime, utc bool) *referenceEncoder {
	return &referenceEncoder{MapObjectEncoder: zapcore.NewMapObjectEncoder(), pid: pid, noTime: noTime, utc: utc}
}

func (e *referenceEncoder) Clone() zapcore.Encoder {
	c := newReferenceEncoder(e.pid, e.noTime, e.utc)
	for k, v := range e.Fields {
		c.Fields[k] = v
	}
	return c
}

func (e *referenceEncoder) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	all := zapcore.NewMapObjectEncoder()
	for k, v := range e.Fields {
		all.Fields[k] = v
	}
	for _, f := range fields {
		f.AddTo(all)
	}
	kv := all.Fields
	delete(kv, "pid") // the bracket at the start says it

	b := refBufferPool.Get()
	b.AppendByte('[')
	b.AppendInt(int64(e.pid))
	b.AppendString("] ")
	if !e.noTime {
		at := ent.Time
		if e.utc {
			at = at.UTC()
		}
		b.AppendString(at.Format(referenceTimeLayout))
		b.AppendByte(' ')
	}
	b.AppendByte('[')
	b.AppendString(referenceLevel(ent))
	b.AppendString("] ")
	if remote, ok := kv["remote"]; ok {
		b.AppendString(fieldText(remote))
		b.AppendString(" - ")
		delete(kv, "remote")
	}
	if cid, ok := kv["cid"]; ok {
		b.AppendString("cid:")
		b.AppendString(fieldText(cid))
		b.AppendString(" - ")
		delete(kv, "cid")
	}
	b.AppendString(ent.Message)
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.AppendByte(' ')
		b.AppendString(k)
		b.AppendByte('=')
		b.AppendString(quoteIfNeeded(fieldText(kv[k])))
	}
	if ent.Stack != "" {
		b.AppendByte('\n')
		b.AppendString(ent.Stack)
	}
	b.AppendByte('\n')
	return b, nil
}

// referenceLevel is the reference server's three-letter level; debug lines
// that are protocol traces are TRC there.
func referenceLevel(ent zapcore.Entry) string {
	switch ent.Level {
	case zapcore.DebugLevel:
		if isProtocolTrace(ent.Message) {
			return "TRC"
		}
		return "DBG"
	case zapcore.InfoLevel:
		return "INF"
	case zapcore.WarnLevel:
		return "WRN"
	case zapcore.ErrorLevel:
		return "ERR"
	default:
		return "FTL"
	}
}

// isProtocolTrace tells the -V lines (`<<- [PUB foo 5]` inbound, `->> [MSG
// foo 1 5]` outbound, `<-> [DELSUB 1]` internal) from other debug lines.
func isProtocolTrace(msg string) bool {
	return strings.HasPrefix(msg, "<<- ") || strings.HasPrefix(msg, "->> ") || strings.HasPrefix(msg, "<-> ")
}

// fieldText renders a field's value as the MapObjectEncoder keeps it.
func fieldText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case time.Duration:
		return v.String()
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr, float32, float64, complex64, complex128:
		return fmt.Sprint(v)
	default: // arrays and objects
		if js, err := json.Marshal(v); err == nil {
			return string(js)
		}
		return fmt.Sprint(v)
	}
}

// quoteIfNeeded quotes a value that would not read back as one word.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return strconv.Quote(s)
	}
	return s
}
