package mqtt

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrIncomplete means the buffer holds only the start of a packet: read
// more and decode again.
var ErrIncomplete = errors.New("mqtt: incomplete packet")

// MalformedError is a packet that breaks the specification. The server
// closes the connection on it (MQTT 3.1.1 has no error reply except the
// CONNACK codes, which the caller chooses from the decoded CONNECT).
type MalformedError struct {
	Type   PacketType
	Reason string
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("mqtt: malformed %s: %s", e.Type, e.Reason)
}

// TooLargeError is a packet whose remaining length passes the caller's
// limit. It is reported from the fixed header alone, before the body is
// buffered.
type TooLargeError struct {
	Type PacketType
	Size int
	Max  int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("mqtt: %s of %d bytes exceeds the limit of %d", e.Type, e.Size, e.Max)
}

func malformed(t PacketType, format string, args ...any) error {
	return &MalformedError{Type: t, Reason: fmt.Sprintf(format, args...)}
}

// Decode reads one packet from the start of buf. It returns the packet and
// the bytes it used, ErrIncomplete when buf holds only part of a packet, a
// *TooLargeError when the remaining length passes maxSize (0: the
// protocol's own maximum), or a *MalformedError. Byte slices in the packet
// (payloads, the password) alias buf.
func Decode(buf []byte, maxSize int) (Packet, int, error) {
	if len(buf) < 2 {
		return nil, 0, ErrIncomplete
	}
	t, flags := PacketType(buf[0]>>4), buf[0]&0x0f
	if t == 0 || t > DISCONNECT {
		return nil, 0, malformed(t, "reserved packet type %d", t)
	}
	if err := checkFlags(t, flags); err != nil {
		return nil, 0, err
	}
	remLen, hdrLen, err := decodeLength(t, buf[1:])
	if err != nil {
		return nil, 0, err
	}
	if maxSize > 0 && remLen > maxSize {
		return nil, 0, &TooLargeError{Type: t, Size: remLen, Max: maxSize}
	}
	total := 1 + hdrLen + remLen
	if len(buf) < total {
		return nil, 0, ErrIncomplete
	}
	r := &reader{t: t, b: buf[1+hdrLen : total]}
	p := decodeBody(r, flags)
	if r.err == nil && r.off != len(r.b) {
		r.fail("%d bytes after the packet's last field", len(r.b)-r.off)
	}
	if r.err != nil {
		return nil, 0, r.err
	}
	return p, total, nil
}

// checkFlags enforces the fixed flags of every type but PUBLISH [MQTT-2.2.2-1, -2].
func checkFlags(t PacketType, flags byte) error {
	want := byte(0)
	switch t {
	case PUBLISH:
		return nil
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		want = 0x2
	}
	if flags != want {
		return malformed(t, "fixed header flags %#x, must be %#x", flags, want)
	}
	return nil
}

// decodeLength reads the remaining length: at most four bytes of seven bits
// each, least significant first (§2.2.3).
func decodeLength(t PacketType, b []byte) (n, used int, err error) {
	mult := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, ErrIncomplete
		}
		n += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return n, i + 1, nil
		}
		mult *= 128
	}
	return 0, 0, malformed(t, "remaining length longer than four bytes")
}

func decodeBody(r *reader, flags byte) Packet {
	switch r.t {
	case CONNECT:
		return decodeConnect(r)
	case CONNACK:
		return decodeConnAck(r)
	case PUBLISH:
		return decodePublish(r, flags)
	case PUBACK:
		return &PubAck{PacketID: r.packetID()}
	case PUBREC:
		return &PubRec{PacketID: r.packetID()}
	case PUBREL:
		return &PubRel{PacketID: r.packetID()}
	case PUBCOMP:
		return &PubComp{PacketID: r.packetID()}
	case SUBSCRIBE:
		return decodeSubscribe(r)
	case SUBACK:
		return decodeSubAck(r)
	case UNSUBSCRIBE:
		return decodeUnsubscribe(r)
	case UNSUBACK:
		return &UnsubAck{PacketID: r.packetID()}
	case PINGREQ:
		return &PingReq{}
	case PINGRESP:
		return &PingResp{}
	default: // DISCONNECT; Decode rejected the reserved types
		return &Disconnect{}
	}
}

// CONNECT flag bits (§3.1.2.3).
const (
	flagReserved     = 0x01
	flagCleanSession = 0x02
	flagWill         = 0x04
	flagWillQoS      = 0x18
	flagWillRetain   = 0x20
	flagPassword     = 0x40
	flagUsername     = 0x80
)

func decodeConnect(r *reader) *Connect {
	c := &Connect{ProtocolName: r.str("protocol name"), ProtocolLevel: r.u8()}
	if r.err == nil && c.ProtocolLevel != ProtocolLevel311 {
		// Another version's CONNECT (MQTT 5 adds properties): its layout is
		// not ours to check. The caller answers CONNACK 1 [MQTT-3.1.2-2].
		r.rest()
		return c
	}
	flags := r.u8()
	c.KeepAlive = r.u16()
	if r.err != nil {
		return nil
	}
	willQoS := (flags & flagWillQoS) >> 3
	switch {
	case flags&flagReserved != 0:
		r.fail("reserved connect flag set") // [MQTT-3.1.2-3]
	case flags&flagWill == 0 && flags&(flagWillQoS|flagWillRetain) != 0:
		r.fail("will QoS or retain without a will") // [MQTT-3.1.2-13, -15]
	case willQoS > 2:
		r.fail("will QoS 3") // [MQTT-3.1.2-14]
	case flags&flagUsername == 0 && flags&flagPassword != 0:
		r.fail("password without a user name") // [MQTT-3.1.2-22]
	}
	c.CleanSession = flags&flagCleanSession != 0
	c.ClientID = r.str("client identifier")
	if flags&flagWill != 0 {
		c.Will = &Will{Topic: r.str("will topic"), Payload: r.bin(), QoS: willQoS, Retain: flags&flagWillRetain != 0}
		if r.err == nil {
			r.checkTopicName(c.Will.Topic)
		}
	}
	if flags&flagUsername != 0 {
		c.Username, c.HasUsername = r.str("user name"), true
	}
	if flags&flagPassword != 0 {
		c.Password, c.HasPassword = r.bin(), true
	}
	return c
}

func decodeConnAck(r *reader) *ConnAck {
	ack, code := r.u8(), r.u8()
	if r.err == nil && ack&^1 != 0 {
		r.fail("reserved acknowledge flags set")
	}
	if r.err == nil && code > byte(NotAuthorized) {
		r.fail("reserved return code %d", code)
	}
	return &ConnAck{SessionPresent: ack&1 != 0, Code: ConnackCode(code)}
}

func decodePublish(r *reader, flags byte) *Publish {
	p := &Publish{Dup: flags&0x08 != 0, QoS: (flags >> 1) & 0x3, Retain: flags&0x01 != 0}
	switch {
	case p.QoS == 3:
		r.fail("QoS 3") // [MQTT-3.3.1-4]
	case p.QoS == 0 && p.Dup:
		r.fail("DUP set on a QoS 0 message") // [MQTT-3.3.1-2]
	}
	p.Topic = r.str("topic name")
	if r.err == nil {
		r.checkTopicName(p.Topic)
	}
	if p.QoS > 0 {
		p.PacketID = r.packetID()
	}
	p.Payload = r.rest()
	return p
}

func decodeSubscribe(r *reader) *Subscribe {
	s := &Subscribe{PacketID: r.packetID()}
	for r.err == nil && r.more() {
		f := r.str("topic filter")
		qos := r.u8()
		if r.err != nil {
			break
		}
		if f == "" {
			r.fail("empty topic filter") // [MQTT-4.7.3-1]
		} else if qos > 2 {
			r.fail("requested QoS byte %#x", qos) // [MQTT-3.8.3-4]
		}
		s.Subscriptions = append(s.Subscriptions, Subscription{Filter: f, QoS: qos})
	}
	if r.err == nil && len(s.Subscriptions) == 0 {
		r.fail("no topic filter") // [MQTT-3.8.3-3]
	}
	return s
}

func decodeSubAck(r *reader) *SubAck {
	s := &SubAck{PacketID: r.packetID()}
	for r.err == nil && r.more() {
		code := r.u8()
		if code > 2 && code != SubackFailure {
			r.fail("return code %#x", code)
		}
		s.ReturnCodes = append(s.ReturnCodes, code)
	}
	if r.err == nil && len(s.ReturnCodes) == 0 {
		r.fail("no return code")
	}
	return s
}

func decodeUnsubscribe(r *reader) *Unsubscribe {
	u := &Unsubscribe{PacketID: r.packetID()}
	for r.err == nil && r.more() {
		f := r.str("topic filter")
		if r.err == nil && f == "" {
			r.fail("empty topic filter")
		}
		u.Filters = append(u.Filters, f)
	}
	if r.err == nil && len(u.Filters) == 0 {
		r.fail("no topic filter") // [MQTT-3.10.3-2]
	}
	return u
}

// reader walks a packet's body; the first problem sticks in err and makes
// every later read return zero values.
type reader struct {
	t   PacketType
	b   []byte
	off int
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = malformed(r.t, format, args...)
	}
}

func (r *reader) more() bool { return r.off < len(r.b) }

func (r *reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if len(r.b)-r.off < n {
		r.fail("%s runs past the remaining length", what)
		return false
	}
	return true
}

func (r *reader) u8() byte {
	if !r.need(1, "a byte field") {
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *reader) u16() uint16 {
	if !r.need(2, "a two-byte field") {
		return 0
	}
	r.off += 2
	return uint16(r.b[r.off-2])<<8 | uint16(r.b[r.off-1])
}

// packetID reads a packet identifier, which is never zero [MQTT-2.3.1-1].
func (r *reader) packetID() uint16 {
	id := r.u16()
	if r.err == nil && id == 0 {
		r.fail("packet identifier 0")
	}
	return id
}

// bin reads two-byte-length-prefixed binary data.
func (r *reader) bin() []byte {
	n := int(r.u16())
	if !r.need(n, "a length-prefixed field") {
		return nil
	}
	r.off += n
	return r.b[r.off-n : r.off : r.off]
}

// str reads a UTF-8 string: well-formed and without U+0000 [MQTT-1.5.3-1, -2].
func (r *reader) str(what string) string {
	b := r.bin()
	if r.err != nil {
		return ""
	}
	if !utf8.Valid(b) {
		r.fail("%s is not valid UTF-8", what)
		return ""
	}
	for _, c := range b {
		if c == 0 {
			r.fail("%s contains U+0000", what)
			return ""
		}
	}
	return string(b)
}

func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	b := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return b
}

// checkTopicName rejects empty topic names and wildcards in them
// [MQTT-4.7.3-1, MQTT-3.3.2-2].
func (r *reader) checkTopicName(topic string) {
	if topic == "" {
		r.fail("empty topic name")
	} else if strings.ContainsAny(topic, "+#") {
		r.fail("wildcard in topic name %q", topic)
	}
}
