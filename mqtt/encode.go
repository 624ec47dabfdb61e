package mqtt

// Encoders append a packet to dst and return the extended slice, so callers
// reuse buffers and the server's per-message path allocates nothing.

// Append encodes any packet.
func Append(dst []byte, p Packet) []byte { return p.appendTo(dst) }

// appendHeader writes the first byte and the remaining length.
func appendHeader(dst []byte, b0 byte, remLen int) []byte {
	dst = append(dst, b0)
	for {
		b := byte(remLen & 0x7f)
		remLen >>= 7
		if remLen > 0 {
			b |= 0x80
		}
		dst = append(dst, b)
		if remLen == 0 {
			return dst
		}
	}
}

func appendU16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendString(dst []byte, s string) []byte {
	return append(appendU16(dst, uint16(len(s))), s...)
}

func appendBinary(dst []byte, b []byte) []byte {
	return append(appendU16(dst, uint16(len(b))), b...)
}

func (c *Connect) appendTo(dst []byte) []byte {
	n := 2 + len(c.ProtocolName) + 4 + 2 + len(c.ClientID)
	var flags byte
	if c.CleanSession {
		flags |= flagCleanSession
	}
	if w := c.Will; w != nil {
		n += 4 + len(w.Topic) + len(w.Payload)
		flags |= flagWill | w.QoS<<3
		if w.Retain {
			flags |= flagWillRetain
		}
	}
	if c.HasUsername {
		n += 2 + len(c.Username)
		flags |= flagUsername
	}
	if c.HasPassword {
		n += 2 + len(c.Password)
		flags |= flagPassword
	}
	dst = appendHeader(dst, byte(CONNECT)<<4, n)
	dst = appendString(dst, c.ProtocolName)
	dst = append(dst, c.ProtocolLevel, flags)
	dst = appendU16(dst, c.KeepAlive)
	dst = appendString(dst, c.ClientID)
	if w := c.Will; w != nil {
		dst = appendString(dst, w.Topic)
		dst = appendBinary(dst, w.Payload)
	}
	if c.HasUsername {
		dst = appendString(dst, c.Username)
	}
	if c.HasPassword {
		dst = appendBinary(dst, c.Password)
	}
	return dst
}

// AppendConnAck encodes a CONNACK.
func AppendConnAck(dst []byte, sessionPresent bool, code ConnackCode) []byte {
	var sp byte
	if sessionPresent {
		sp = 1
	}
	return append(dst, byte(CONNACK)<<4, 2, sp, byte(code))
}

func (a *ConnAck) appendTo(dst []byte) []byte { return AppendConnAck(dst, a.SessionPresent, a.Code) }

// AppendPublishHeader encodes a PUBLISH up to its payload, which the caller
// appends (or queues) itself: the fixed header, the topic and, with QoS > 0,
// the packet identifier.
func AppendPublishHeader(dst []byte, topic string, packetID uint16, qos byte, retain, dup bool, payloadLen int) []byte {
	b0 := byte(PUBLISH)<<4 | qos<<1
	if dup {
		b0 |= 0x08
	}
	if retain {
		b0 |= 0x01
	}
	n := 2 + len(topic) + payloadLen
	if qos > 0 {
		n += 2
	}
	dst = appendHeader(dst, b0, n)
	dst = appendString(dst, topic)
	if qos > 0 {
		dst = appendU16(dst, packetID)
	}
	return dst
}

func (p *Publish) appendTo(dst []byte) []byte {
	dst = AppendPublishHeader(dst, p.Topic, p.PacketID, p.QoS, p.Retain, p.Dup, len(p.Payload))
	return append(dst, p.Payload...)
}

// AppendPubAck encodes a PUBACK.
func AppendPubAck(dst []byte, packetID uint16) []byte {
	return appendIDOnly(dst, byte(PUBACK)<<4, packetID)
}

func appendIDOnly(dst []byte, b0 byte, id uint16) []byte {
	return append(dst, b0, 2, byte(id>>8), byte(id))
}

func (a *PubAck) appendTo(dst []byte) []byte { return AppendPubAck(dst, a.PacketID) }
func (a *PubRec) appendTo(dst []byte) []byte { return appendIDOnly(dst, byte(PUBREC)<<4, a.PacketID) }
func (a *PubRel) appendTo(dst []byte) []byte {
	return appendIDOnly(dst, byte(PUBREL)<<4|0x2, a.PacketID)
}
func (a *PubComp) appendTo(dst []byte) []byte { return appendIDOnly(dst, byte(PUBCOMP)<<4, a.PacketID) }

func (s *Subscribe) appendTo(dst []byte) []byte {
	n := 2
	for _, sub := range s.Subscriptions {
		n += 3 + len(sub.Filter)
	}
	dst = appendHeader(dst, byte(SUBSCRIBE)<<4|0x2, n)
	dst = appendU16(dst, s.PacketID)
	for _, sub := range s.Subscriptions {
		dst = append(appendString(dst, sub.Filter), sub.QoS)
	}
	return dst
}

// AppendSubAck encodes a SUBACK with one return code per filter.
func AppendSubAck(dst []byte, packetID uint16, codes []byte) []byte {
	dst = appendHeader(dst, byte(SUBACK)<<4, 2+len(codes))
	dst = appendU16(dst, packetID)
	return append(dst, codes...)
}

func (s *SubAck) appendTo(dst []byte) []byte { return AppendSubAck(dst, s.PacketID, s.ReturnCodes) }

func (u *Unsubscribe) appendTo(dst []byte) []byte {
	n := 2
	for _, f := range u.Filters {
		n += 2 + len(f)
	}
	dst = appendHeader(dst, byte(UNSUBSCRIBE)<<4|0x2, n)
	dst = appendU16(dst, u.PacketID)
	for _, f := range u.Filters {
		dst = appendString(dst, f)
	}
	return dst
}

// AppendUnsubAck encodes an UNSUBACK.
func AppendUnsubAck(dst []byte, packetID uint16) []byte {
	return appendIDOnly(dst, byte(UNSUBACK)<<4, packetID)
}

func (u *UnsubAck) appendTo(dst []byte) []byte { return AppendUnsubAck(dst, u.PacketID) }

// AppendPingResp encodes a PINGRESP.
func AppendPingResp(dst []byte) []byte { return append(dst, byte(PINGRESP)<<4, 0) }

func (*PingReq) appendTo(dst []byte) []byte    { return append(dst, byte(PINGREQ)<<4, 0) }
func (*PingResp) appendTo(dst []byte) []byte   { return AppendPingResp(dst) }
func (*Disconnect) appendTo(dst []byte) []byte { return append(dst, byte(DISCONNECT)<<4, 0) }
