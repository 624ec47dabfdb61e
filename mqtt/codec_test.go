package mqtt

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// fixtures are raw packets and what they decode to; every one is checked in
// both directions (decode, and encode back to the same bytes).
var fixtures = []struct {
	name string
	raw  []byte
	pkt  Packet
}{
	{"connect minimal", []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 0},
		&Connect{ProtocolName: "MQTT", ProtocolLevel: 4, CleanSession: true, KeepAlive: 60, ClientID: ""}},
	{"connect full", []byte{0x10, 35, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xEC, 0, 10,
		0, 2, 'i', 'd', 0, 3, 'a', '/', 'b', 0, 3, 'b', 'y', 'e', 0, 1, 'u', 0, 2, 'p', 'w', 0, 0, 0, 0},
		nil}, // replaced in init: the password runs past; see connectFull
	{"connack", []byte{0x20, 2, 1, 0}, &ConnAck{SessionPresent: true, Code: Accepted}},
	{"connack refused", []byte{0x20, 2, 0, 5}, &ConnAck{Code: NotAuthorized}},
	{"publish qos0", []byte{0x30, 7, 0, 3, 'a', '/', 'b', 'h', 'i'},
		&Publish{Topic: "a/b", Payload: []byte("hi")}},
	{"publish qos1 retain dup", []byte{0x3B, 9, 0, 3, 'a', '/', 'b', 0x12, 0x34, 'h', 'i'},
		&Publish{Topic: "a/b", PacketID: 0x1234, QoS: 1, Retain: true, Dup: true, Payload: []byte("hi")}},
	{"puback", []byte{0x40, 2, 0, 7}, &PubAck{PacketID: 7}},
	{"pubrec", []byte{0x50, 2, 0, 7}, &PubRec{PacketID: 7}},
	{"pubrel", []byte{0x62, 2, 0, 7}, &PubRel{PacketID: 7}},
	{"pubcomp", []byte{0x70, 2, 0, 7}, &PubComp{PacketID: 7}},
	{"subscribe", []byte{0x82, 12, 0, 1, 0, 3, 'a', '/', '+', 1, 0, 1, '#', 0},
		&Subscribe{PacketID: 1, Subscriptions: []Subscription{{"a/+", 1}, {"#", 0}}}},
	{"suback", []byte{0x90, 4, 0, 1, 1, 0x80}, &SubAck{PacketID: 1, ReturnCodes: []byte{1, 0x80}}},
	{"unsubscribe", []byte{0xA2, 7, 0, 2, 0, 3, 'a', '/', 'b'}, &Unsubscribe{PacketID: 2, Filters: []string{"a/b"}}},
	{"unsuback", []byte{0xB0, 2, 0, 2}, &UnsubAck{PacketID: 2}},
	{"pingreq", []byte{0xC0, 0}, &PingReq{}},
	{"pingresp", []byte{0xD0, 0}, &PingResp{}},
	{"disconnect", []byte{0xE0, 0}, &Disconnect{}},
}

func init() {
	// connect full: will QoS 1 retained, user name and password.
	raw := []byte{0x10, 0, 0, 4, 'M', 'Q', 'T', 'T', 4, 0xEC, 0, 10,
		0, 2, 'i', 'd', 0, 3, 'a', '/', 'b', 0, 3, 'b', 'y', 'e', 0, 1, 'u', 0, 2, 'p', 'w'}
	raw[1] = byte(len(raw) - 2)
	fixtures[1].raw = raw
	fixtures[1].pkt = &Connect{ProtocolName: "MQTT", ProtocolLevel: 4, KeepAlive: 10, ClientID: "id",
		Will:     &Will{Topic: "a/b", Payload: []byte("bye"), QoS: 1, Retain: true},
		Username: "u", HasUsername: true, Password: []byte("pw"), HasPassword: true}
}

func TestFixturesDecode(t *testing.T) {
	for _, f := range fixtures {
		p, n, err := Decode(f.raw, 0)
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		if n != len(f.raw) {
			t.Errorf("%s: used %d of %d bytes", f.name, n, len(f.raw))
		}
		if !reflect.DeepEqual(p, f.pkt) {
			t.Errorf("%s: decoded %#v, want %#v", f.name, p, f.pkt)
		}
	}
}

func TestFixturesEncode(t *testing.T) {
	for _, f := range fixtures {
		if got := Append(nil, f.pkt); !bytes.Equal(got, f.raw) {
			t.Errorf("%s: encoded % x, want % x", f.name, got, f.raw)
		}
	}
}

// TestSplitAnywhere feeds every fixture cut at every byte: a prefix is
// always incomplete, never malformed.
func TestSplitAnywhere(t *testing.T) {
	for _, f := range fixtures {
		for i := 0; i < len(f.raw); i++ {
			if _, _, err := Decode(f.raw[:i], 0); err != ErrIncomplete {
				t.Fatalf("%s cut at %d: %v, want ErrIncomplete", f.name, i, err)
			}
		}
	}
}

func TestBackToBack(t *testing.T) {
	var buf []byte
	for _, f := range fixtures {
		buf = append(buf, f.raw...)
	}
	for i, f := range fixtures {
		p, n, err := Decode(buf, 0)
		if err != nil || !reflect.DeepEqual(p, f.pkt) {
			t.Fatalf("packet %d (%s): %v %#v", i, f.name, err, p)
		}
		buf = buf[n:]
	}
	if len(buf) != 0 {
		t.Fatalf("%d bytes left", len(buf))
	}
}

func TestMalformed(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
	}{
		{"reserved type 0", []byte{0x00, 0}},
		{"reserved type 15", []byte{0xF0, 0}},
		{"remaining length of five bytes", []byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"pingreq with flags", []byte{0xC1, 0}},
		{"subscribe without flag bit 1", []byte{0x80, 6, 0, 1, 0, 1, 'a', 0}},
		{"pubrel flags 0", []byte{0x60, 2, 0, 1}},
		{"pingreq with body", []byte{0xC0, 1, 0}},
		{"puback short", []byte{0x40, 1, 0}},
		{"puback id 0", []byte{0x40, 2, 0, 0}},
		{"publish qos 3", []byte{0x36, 5, 0, 1, 'a', 0, 1}},
		{"publish qos0 dup", []byte{0x38, 3, 0, 1, 'a'}},
		{"publish empty topic", []byte{0x30, 2, 0, 0}},
		{"publish wildcard topic", []byte{0x30, 3, 0, 1, '#'}},
		{"publish topic runs past", []byte{0x30, 3, 0, 5, 'a'}},
		{"publish qos1 id 0", []byte{0x32, 5, 0, 1, 'a', 0, 0}},
		{"publish topic not utf8", []byte{0x30, 3, 0, 1, 0xff}},
		{"publish topic with NUL", []byte{0x30, 3, 0, 1, 0}},
		{"connect reserved flag", []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x03, 0, 0, 0, 0}},
		{"connect will qos without will", []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x0A, 0, 0, 0, 0}},
		{"connect password without user", []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x42, 0, 0, 0, 0, 0, 0}},
		{"connect trailing bytes", []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, 0, 9}},
		{"connect truncated", []byte{0x10, 4, 0, 4, 'M', 'Q'}},
		{"subscribe no filters", []byte{0x82, 2, 0, 1}},
		{"subscribe qos 3", []byte{0x82, 6, 0, 1, 0, 1, 'a', 3}},
		{"subscribe reserved qos bits", []byte{0x82, 6, 0, 1, 0, 1, 'a', 0x41}},
		{"subscribe empty filter", []byte{0x82, 5, 0, 1, 0, 0, 0}},
		{"unsubscribe no filters", []byte{0xA2, 2, 0, 1}},
		{"suback bad code", []byte{0x90, 3, 0, 1, 3}},
		{"connack bad flags", []byte{0x20, 2, 2, 0}},
		{"connack bad code", []byte{0x20, 2, 0, 6}},
	}
	for _, c := range cases {
		_, _, err := Decode(c.raw, 0)
		var me *MalformedError
		if !errors.As(err, &me) {
			t.Errorf("%s: got %v, want a MalformedError", c.name, err)
		}
	}
}

// An MQTT 5 CONNECT (properties after the keep-alive) decodes far enough
// for the server to refuse its protocol level with a CONNACK.
func TestConnectOtherVersion(t *testing.T) {
	raw := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 0}
	p, _, err := Decode(raw, 0)
	if c, ok := p.(*Connect); err != nil || !ok || c.ProtocolLevel != 5 {
		t.Fatalf("got %#v, %v", p, err)
	}
}

func TestTooLargeFromHeaderAlone(t *testing.T) {
	// Only the fixed header has arrived: the size is refused already.
	_, _, err := Decode([]byte{0x30, 0xff, 0xff, 0x03}, 1024)
	var tl *TooLargeError
	if !errors.As(err, &tl) || tl.Size != 65535 || tl.Max != 1024 {
		t.Fatalf("got %v, want TooLargeError of 65535 > 1024", err)
	}
}

func TestPublishHeaderLengths(t *testing.T) {
	// Remaining lengths that need one to four bytes.
	for _, n := range []int{0, 127, 128, 16383, 16384, 2097151, 2097152} {
		payload := make([]byte, n)
		raw := Append(nil, &Publish{Topic: "t", Payload: payload})
		p, used, err := Decode(raw, 0)
		if err != nil || used != len(raw) || len(p.(*Publish).Payload) != n {
			t.Fatalf("payload %d: %v (used %d of %d)", n, err, used, len(raw))
		}
	}
}
