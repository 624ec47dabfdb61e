package parser

import "strconv"

// Fixed server→client lines.
var (
	PingLine = []byte("PING\r\n")
	PongLine = []byte("PONG\r\n")
	OKLine   = []byte("+OK\r\n")
	CRLF     = []byte("\r\n")
)

// AppendMsg appends the control line of a MSG delivery:
// "MSG <subject> <sid> [reply] <size>\r\n". The payload and its CRLF follow
// separately so one payload can be shared by many deliveries.
func AppendMsg(dst, subject, sid, reply []byte, size int) []byte {
	return append(AppendSizes(appendHead(dst, "MSG ", subject, sid, reply), -1, size), '\r', '\n')
}

// AppendHMsg appends the control line of an HMSG delivery:
// "HMSG <subject> <sid> [reply] <hdrLen> <total>\r\n".
func AppendHMsg(dst, subject, sid, reply []byte, hdrLen, total int) []byte {
	return append(AppendSizes(appendHead(dst, "HMSG ", subject, sid, reply), hdrLen, total), '\r', '\n')
}

// AppendSizes appends the sizes of a delivery's control line in decimal:
// "<total>" for a MSG (hdrLen < 0), "<hdrLen> <total>" for an HMSG.
func AppendSizes(dst []byte, hdrLen, total int) []byte {
	if hdrLen >= 0 {
		dst = strconv.AppendInt(dst, int64(hdrLen), 10)
		dst = append(dst, ' ')
	}
	return strconv.AppendInt(dst, int64(total), 10)
}

// AppendMsgSized is AppendMsg with the size already in decimal, and
// AppendHMsgSized AppendHMsg with "<hdrLen> <total>" (AppendSizes): a
// message fanned out to many receivers has its sizes formatted once, not
// once per receiver.
func AppendMsgSized(dst, subject, sid, reply, size []byte) []byte {
	return append(append(appendHead(dst, "MSG ", subject, sid, reply), size...), '\r', '\n')
}

// AppendHMsgSized: see AppendMsgSized.
func AppendHMsgSized(dst, subject, sid, reply, sizes []byte) []byte {
	return append(append(appendHead(dst, "HMSG ", subject, sid, reply), sizes...), '\r', '\n')
}

// appendHead appends a delivery's control line up to its sizes.
func appendHead(dst []byte, verb string, subject, sid, reply []byte) []byte {
	return appendSubjectSidReply(append(dst, verb...), subject, sid, reply)
}

func appendSubjectSidReply(dst, subject, sid, reply []byte) []byte {
	dst = append(dst, subject...)
	dst = append(dst, ' ')
	dst = append(dst, sid...)
	dst = append(dst, ' ')
	if len(reply) > 0 {
		dst = append(dst, reply...)
		dst = append(dst, ' ')
	}
	return dst
}

// AppendInfo appends "INFO <json> \r\n" (the space before CRLF is what the
// reference server sends; clients trim it).
func AppendInfo(dst, infoJSON []byte) []byte {
	dst = append(dst, "INFO "...)
	dst = append(dst, infoJSON...)
	return append(dst, " \r\n"...)
}

// AppendErr appends "-ERR '<text>'\r\n".
func AppendErr(dst []byte, text string) []byte {
	dst = append(dst, "-ERR '"...)
	dst = append(dst, text...)
	return append(dst, "'\r\n"...)
}
