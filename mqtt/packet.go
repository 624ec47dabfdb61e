// Package mqtt is midge's codec for MQTT 3.1.1 control packets: a decoder
// that validates every packet against the specification's structural rules
// (and is fuzzed), append-style encoders, and the mapping between MQTT
// topics and NATS subjects. It knows nothing of connections or sessions.
package mqtt

// PacketType is the high nibble of a packet's first byte.
type PacketType byte

// The control packet types of MQTT 3.1.1 (§2.2.1).
const (
	CONNECT     PacketType = 1
	CONNACK     PacketType = 2
	PUBLISH     PacketType = 3
	PUBACK      PacketType = 4
	PUBREC      PacketType = 5
	PUBREL      PacketType = 6
	PUBCOMP     PacketType = 7
	SUBSCRIBE   PacketType = 8
	SUBACK      PacketType = 9
	UNSUBSCRIBE PacketType = 10
	UNSUBACK    PacketType = 11
	PINGREQ     PacketType = 12
	PINGRESP    PacketType = 13
	DISCONNECT  PacketType = 14
)

var typeNames = [...]string{
	CONNECT: "CONNECT", CONNACK: "CONNACK", PUBLISH: "PUBLISH", PUBACK: "PUBACK",
	PUBREC: "PUBREC", PUBREL: "PUBREL", PUBCOMP: "PUBCOMP", SUBSCRIBE: "SUBSCRIBE",
	SUBACK: "SUBACK", UNSUBSCRIBE: "UNSUBSCRIBE", UNSUBACK: "UNSUBACK",
	PINGREQ: "PINGREQ", PINGRESP: "PINGRESP", DISCONNECT: "DISCONNECT",
}

func (t PacketType) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return "RESERVED"
}

// ConnackCode is a CONNACK return code (§3.2.2.3).
type ConnackCode byte

// CONNACK return codes.
const (
	Accepted              ConnackCode = 0
	UnacceptableProtocol  ConnackCode = 1
	IdentifierRejected    ConnackCode = 2
	ServerUnavailable     ConnackCode = 3
	BadUsernameOrPassword ConnackCode = 4
	NotAuthorized         ConnackCode = 5
)

// SubackFailure is the SUBACK return code that refuses one filter.
const SubackFailure byte = 0x80

// The protocol name and level of MQTT 3.1.1 in CONNECT.
const (
	ProtocolName     = "MQTT"
	ProtocolLevel311 = 4
)

// MaxRemainingLength is the largest remaining length the four-byte
// variable-length encoding can express (§2.2.3): 256 MiB - 1.
const MaxRemainingLength = 268435455

// Packet is one decoded control packet: a pointer to one of the types below.
type Packet interface {
	Type() PacketType
	// appendTo encodes the packet.
	appendTo(dst []byte) []byte
}

// Connect is the first packet a client sends.
type Connect struct {
	ProtocolName  string
	ProtocolLevel byte
	CleanSession  bool
	KeepAlive     uint16 // seconds; 0 turns keep-alive off
	ClientID      string
	Will          *Will // nil without a will
	Username      string
	HasUsername   bool
	Password      []byte
	HasPassword   bool
}

// Will is the message the server publishes for a client whose connection
// ends without DISCONNECT.
type Will struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// ConnAck answers CONNECT.
type ConnAck struct {
	SessionPresent bool
	Code           ConnackCode
}

// Publish carries an application message. Payload is borrowed from the
// buffer passed to Decode.
type Publish struct {
	Topic    string
	PacketID uint16 // only with QoS > 0
	QoS      byte
	Retain   bool
	Dup      bool
	Payload  []byte
}

// PubAck, PubRec, PubRel and PubComp carry only a packet identifier.
type (
	PubAck  struct{ PacketID uint16 }
	PubRec  struct{ PacketID uint16 }
	PubRel  struct{ PacketID uint16 }
	PubComp struct{ PacketID uint16 }
)

// Subscription is one topic filter of a SUBSCRIBE with its requested QoS.
type Subscription struct {
	Filter string
	QoS    byte
}

// Subscribe asks for one or more subscriptions.
type Subscribe struct {
	PacketID      uint16
	Subscriptions []Subscription
}

// SubAck grants (QoS 0-2) or refuses (SubackFailure) each filter in order.
type SubAck struct {
	PacketID    uint16
	ReturnCodes []byte
}

// Unsubscribe removes subscriptions.
type Unsubscribe struct {
	PacketID uint16
	Filters  []string
}

// UnsubAck answers UNSUBSCRIBE.
type UnsubAck struct{ PacketID uint16 }

// PingReq, PingResp and Disconnect have no content.
type (
	PingReq    struct{}
	PingResp   struct{}
	Disconnect struct{}
)

func (*Connect) Type() PacketType     { return CONNECT }
func (*ConnAck) Type() PacketType     { return CONNACK }
func (*Publish) Type() PacketType     { return PUBLISH }
func (*PubAck) Type() PacketType      { return PUBACK }
func (*PubRec) Type() PacketType      { return PUBREC }
func (*PubRel) Type() PacketType      { return PUBREL }
func (*PubComp) Type() PacketType     { return PUBCOMP }
func (*Subscribe) Type() PacketType   { return SUBSCRIBE }
func (*SubAck) Type() PacketType      { return SUBACK }
func (*Unsubscribe) Type() PacketType { return UNSUBSCRIBE }
func (*UnsubAck) Type() PacketType    { return UNSUBACK }
func (*PingReq) Type() PacketType     { return PINGREQ }
func (*PingResp) Type() PacketType    { return PINGRESP }
func (*Disconnect) Type() PacketType  { return DISCONNECT }
