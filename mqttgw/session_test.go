package mqttgw_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/mqtt"
	"github.com/midgemq/midge/server"
)

func persistentConnect(t *testing.T, s *server.Server, id string) (*rawMQTT, *mqtt.ConnAck) {
	t.Helper()
	r := dialMQTT(t, s)
	return r, r.connect(&mqtt.Connect{ClientID: id})
}

// A persistent session keeps its subscriptions and QoS 1 messages while
// the client is away; an unacknowledged message comes again at once on
// reconnect, with DUP and its packet identifier [MQTT-4.4.0-1].
func TestMQTTPersistentSessionRedelivers(t *testing.T) {
	s := startMQTTServer(t)
	r, ack := persistentConnect(t, s, "dev")
	if ack.Code != mqtt.Accepted || ack.SessionPresent {
		t.Fatalf("first CONNACK %+v", ack)
	}
	if codes := r.subscribe(1, mqtt.Subscription{Filter: "cmd/dev", QoS: 1}); codes[0] != 1 {
		t.Fatalf("SUBACK % x", codes)
	}
	nc := testutil.Connect(t, s)
	publishStored(t, nc, "cmd.dev", "first")
	first := r.expectPublish()
	if first.QoS != 1 || first.Dup || string(first.Payload) != "first" || first.Topic != "cmd/dev" {
		t.Fatalf("first delivery %+v", first)
	}
	r.conn.Close() // no PUBACK

	publishStored(t, nc, "cmd.dev", "while away")
	r, ack = persistentConnect(t, s, "dev")
	if !ack.SessionPresent {
		t.Fatal("session not present on reconnect")
	}
	again := r.expectPublish()
	if !again.Dup || again.PacketID != first.PacketID || string(again.Payload) != "first" {
		t.Fatalf("redelivery %+v, want DUP with id %d", again, first.PacketID)
	}
	away := r.expectPublish()
	// (It may carry DUP: the consumer may have sent it to the closing
	// connection before the session let go of it.)
	if string(away.Payload) != "while away" || away.PacketID == again.PacketID {
		t.Fatalf("queued message %+v", away)
	}
	r.send(&mqtt.PubAck{PacketID: again.PacketID})
	r.send(&mqtt.PubAck{PacketID: away.PacketID})
	r.send(&mqtt.Disconnect{})
	r.expectClosed()

	// Everything acknowledged: nothing comes back, and the stream let go.
	r, _ = persistentConnect(t, s, "dev")
	r.send(&mqtt.PingReq{})
	if p := r.next(); p.Type() != mqtt.PINGRESP {
		t.Fatalf("after full acknowledgement got %v", p.Type())
	}
	testutil.WaitFor(t, "acknowledged messages removed", func() bool {
		return globalMQTTStream(t, s, "$MQTT_msgs").State("", false).Msgs == 0
	})
}

// publishStored publishes over NATS into the QoS 1 store, $MQTT.msgs.<subject>:
// how a NATS client reaches MQTT QoS 1 subscribers at least once.
func publishStored(t *testing.T, nc *nats.Conn, subject, payload string) {
	t.Helper()
	m, err := nc.Request("$MQTT.msgs."+subject, []byte(payload), 5*time.Second)
	if err != nil || !bytes.Contains(m.Data, []byte(`"seq"`)) {
		t.Fatalf("storing %q: %v %s", payload, err, m.Data)
	}
}

// A clean session discards what a persistent one left [MQTT-3.1.2-6]; the
// next persistent CONNECT finds no session.
func TestMQTTCleanSessionDiscards(t *testing.T) {
	s := startMQTTServer(t)
	r, _ := persistentConnect(t, s, "dev")
	r.subscribe(1, mqtt.Subscription{Filter: "a/b", QoS: 1})
	r.send(&mqtt.Disconnect{})
	r.expectClosed()

	clean := dialMQTT(t, s)
	if ack := clean.connect(&mqtt.Connect{ClientID: "dev", CleanSession: true}); ack.SessionPresent {
		t.Fatal("clean session reported present")
	}
	clean.send(&mqtt.Disconnect{})
	clean.expectClosed()
	if n := globalMQTTStream(t, s, "$MQTT_msgs").NumConsumers(); n != 0 {
		t.Fatalf("%d consumers left after a clean session", n)
	}
	if _, ack := persistentConnect(t, s, "dev"); ack.SessionPresent {
		t.Fatal("session survived a clean session")
	}
}

// A second connection with the same client identifier takes the session
// over and the first is closed [MQTT-3.1.4-2], without its will.
func TestMQTTTakeover(t *testing.T) {
	s := startMQTTServer(t)
	nc := testutil.Connect(t, s)
	wills, _ := nc.SubscribeSync("will")
	nc.Flush()
	first := dialMQTT(t, s)
	first.connect(&mqtt.Connect{ClientID: "twin", Will: &mqtt.Will{Topic: "will", Payload: []byte("x")}})
	first.subscribe(1, mqtt.Subscription{Filter: "t", QoS: 1})
	second, ack := persistentConnect(t, s, "twin")
	if !ack.SessionPresent {
		t.Fatal("session not present for the new connection")
	}
	first.expectClosed()
	nc.Publish("t", []byte("to the second"))
	if p := second.expectPublish(); string(p.Payload) != "to the second" {
		t.Fatalf("second got %q", p.Payload)
	}
	nc.Publish("will", []byte("fence"))
	if m := testutil.NextMsg(t, wills); string(m.Data) != "fence" {
		t.Fatalf("will published on takeover: %q", m.Data)
	}
}

// Malformed packets close the connection; CONNECT problems are answered
// with the CONNACK code first.
func TestMQTTMalformedPackets(t *testing.T) {
	s := startMQTTServer(t)
	connected := func() *rawMQTT {
		r := dialMQTT(t, s)
		r.connect(&mqtt.Connect{ClientID: "m", CleanSession: true})
		return r
	}
	for name, raw := range map[string][]byte{
		"remaining length of five bytes": {0x30, 0xff, 0xff, 0xff, 0xff, 0x01},
		"publish qos 3":                  {0x36, 5, 0, 1, 'a', 0, 1},
		"subscribe flags":                {0x80, 6, 0, 1, 0, 1, 'a', 0},
		"subscribe no filter":            {0x82, 2, 0, 1},
		"reserved type":                  {0xF0, 0},
		"pingreq with body":              {0xC0, 1, 0},
		"qos 2 publish":                  {0x34, 5, 0, 1, 'a', 0, 1},
		"server packet":                  {0x20, 2, 0, 0},
		"second connect":                 mqtt.Append(nil, &mqtt.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, ClientID: "m", CleanSession: true}),
	} {
		t.Run(name, func(t *testing.T) {
			r := connected()
			r.sendRaw(raw)
			r.expectClosed()
		})
	}
	before := s.ProtocolStats().MQTTMalformed
	big := dialMQTT(t, s)
	big.connect(&mqtt.Connect{ClientID: "big", CleanSession: true})
	// The header alone announces more than max_payload allows.
	big.sendRaw([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	big.expectClosed()
	if s.ProtocolStats().MQTTMalformed <= before {
		t.Fatal("oversized packet not counted")
	}

	for name, c := range map[string]struct {
		connect *mqtt.Connect
		code    mqtt.ConnackCode
	}{
		"protocol level 3":         {&mqtt.Connect{ProtocolName: "MQIsdp", ProtocolLevel: 3, ClientID: "x"}, mqtt.UnacceptableProtocol},
		"protocol level 5":         {&mqtt.Connect{ProtocolName: "MQTT", ProtocolLevel: 5, ClientID: "x"}, mqtt.UnacceptableProtocol},
		"empty id, persistent":     {&mqtt.Connect{ClientID: ""}, mqtt.IdentifierRejected},
		"will topic not mappable":  {&mqtt.Connect{ClientID: "x", CleanSession: true, Will: &mqtt.Will{Topic: "a.b"}}, mqtt.NotAuthorized},
		"will qos 2 not supported": {&mqtt.Connect{ClientID: "x", CleanSession: true, Will: &mqtt.Will{Topic: "w", QoS: 2}}, mqtt.ServerUnavailable},
	} {
		t.Run(name, func(t *testing.T) {
			r := dialMQTT(t, s)
			if ack := r.connect(c.connect); ack.Code != c.code {
				t.Fatalf("CONNACK code %d, want %d", ack.Code, c.code)
			}
			r.expectClosed()
		})
	}

	t.Run("MQTT 5 connect", func(t *testing.T) {
		r := dialMQTT(t, s)
		r.sendRaw([]byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 0}) // with properties
		if ack, ok := r.next().(*mqtt.ConnAck); !ok || ack.Code != mqtt.UnacceptableProtocol {
			t.Fatalf("got %#v, want CONNACK 1", ack)
		}
		r.expectClosed()
	})
	t.Run("packet before connect", func(t *testing.T) {
		r := dialMQTT(t, s)
		r.send(&mqtt.PingReq{})
		r.expectClosed()
	})
	t.Run("empty id, clean: one is assigned", func(t *testing.T) {
		r := dialMQTT(t, s)
		if ack := r.connect(&mqtt.Connect{CleanSession: true}); ack.Code != mqtt.Accepted {
			t.Fatalf("CONNACK %d", ack.Code)
		}
	})
	t.Run("split at every byte", func(t *testing.T) {
		r := dialMQTT(t, s)
		raw := mqtt.Append(nil, &mqtt.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, ClientID: "slow", CleanSession: true})
		raw = mqtt.Append(raw, &mqtt.Subscribe{PacketID: 3, Subscriptions: []mqtt.Subscription{{Filter: "x/y", QoS: 1}}})
		for i := range raw {
			r.sendRaw(raw[i : i+1])
		}
		if p := r.next(); p.Type() != mqtt.CONNACK {
			t.Fatalf("got %v", p.Type())
		}
		if p, ok := r.next().(*mqtt.SubAck); !ok || !bytes.Equal(p.ReturnCodes, []byte{1}) {
			t.Fatalf("got %#v", p)
		}
	})
}

// Without JetStream, MQTT works at QoS 0 with clean sessions and says so
// for the rest.
func TestMQTTWithoutJetStream(t *testing.T) {
	s := startMQTTServer(t, func(o *config.Options) { o.JetStream = false })
	r := dialMQTT(t, s)
	if ack := r.connect(&mqtt.Connect{ClientID: "p"}); ack.Code != mqtt.ServerUnavailable {
		t.Fatalf("persistent session CONNACK %d, want server unavailable", ack.Code)
	}
	r.expectClosed()

	r = dialMQTT(t, s)
	r.connect(&mqtt.Connect{ClientID: "c", CleanSession: true})
	if codes := r.subscribe(1, mqtt.Subscription{Filter: "t", QoS: 1}); codes[0] != 0 {
		t.Fatalf("QoS 1 granted without JetStream: % x", codes)
	}
	r.send(&mqtt.Publish{Topic: "t", Payload: []byte("zero")})
	if p := r.expectPublish(); p.QoS != 0 || string(p.Payload) != "zero" {
		t.Fatalf("got %+v", p)
	}
	r.send(&mqtt.Publish{Topic: "t", QoS: 1, PacketID: 1, Payload: []byte("one")})
	r.expectClosed()
}
