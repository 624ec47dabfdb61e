package mqttgw_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/mqtt"
)

// An MQTT publish reaches NATS and MQTT subscribers, a NATS publish reaches
// MQTT subscribers, payloads unchanged; a QoS 1 subscription gets a QoS 1
// message once (from its consumer), not also from the core subscription.
func TestMQTTAndNATSCrossBothWays(t *testing.T) {
	s := startMQTTServer(t)
	nc := testutil.Connect(t, s)
	natsSub, _ := nc.SubscribeSync("sensors.>")
	nc.Flush()

	// Separate clients: paho hands a message to every matching handler.
	q1 := pahoSubscribe(t, pahoConnect(t, s, "sub1", true), "sensors/+/temp", 1)
	q0 := pahoSubscribe(t, pahoConnect(t, s, "sub0", true), "sensors/#", 0)
	pub := pahoConnect(t, s, "pub", true)

	payload := []byte{0, 1, 2, 0xff, 'x'}
	waitToken(t, "publish qos1", pub.Publish("sensors/1/temp", 1, false, payload))
	m := nextMQTT(t, q1)
	if m.Topic() != "sensors/1/temp" || !bytes.Equal(m.Payload(), payload) || m.Qos() != 1 || m.Retained() {
		t.Fatalf("QoS 1 subscriber got %q %v qos %d", m.Topic(), m.Payload(), m.Qos())
	}
	if m := nextMQTT(t, q0); m.Qos() != 0 || !bytes.Equal(m.Payload(), payload) {
		t.Fatalf("QoS 0 subscriber got qos %d %v", m.Qos(), m.Payload())
	}
	nm := testutil.NextMsg(t, natsSub)
	if nm.Subject != "sensors.1.temp" || !bytes.Equal(nm.Data, payload) {
		t.Fatalf("NATS subscriber got %s %v", nm.Subject, nm.Data)
	}

	// NATS to MQTT: delivered at QoS 0 (it was never stored).
	nc.Publish("sensors.2.temp", []byte("from nats"))
	if m := nextMQTT(t, q1); m.Topic() != "sensors/2/temp" || string(m.Payload()) != "from nats" || m.Qos() != 0 {
		t.Fatalf("MQTT got %q %q qos %d", m.Topic(), m.Payload(), m.Qos())
	}
	nextMQTT(t, q0)
	testutil.NextMsg(t, natsSub)

	// Nothing else: no duplicate of the QoS 1 message.
	waitToken(t, "round trip", pub.Publish("sensors/fence", 0, false, "end"))
	if m := nextMQTT(t, q0); m.Topic() != "sensors/fence" {
		t.Fatalf("expected the fence, got %q", m.Topic())
	}
	select {
	case m := <-q1:
		t.Fatalf("QoS 1 subscription got a duplicate: %q %q", m.Topic(), m.Payload())
	default:
	}
	// A writer counts what it sent after the write returns, which can be
	// after the client read it: poll.
	statsOK := func() bool {
		ps := s.ProtocolStats()
		return ps.MQTT.Connections == 3 && ps.MQTT.InMsgs == 2 && ps.MQTT.OutMsgs >= 5 && ps.NATS.Connections == 1
	}
	for deadline := time.Now().Add(5 * time.Second); !statsOK(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("protocol stats %+v", s.ProtocolStats().MQTT)
		}
	}
}

// Request/reply from NATS to an MQTT "service" is out of scope; but a NATS
// wildcard subscriber must never see topics that cannot be mapped: the
// publisher is cut off instead.
func TestMQTTUnmappableTopicClosesPublisher(t *testing.T) {
	s := startMQTTServer(t)
	for _, topic := range []string{"a.b", "a//b", "a/ b", "$MQTT/sess/x", "a/*"} {
		r := dialMQTT(t, s)
		if ack := r.connect(&mqtt.Connect{ClientID: "x", CleanSession: true}); ack.Code != mqtt.Accepted {
			t.Fatalf("CONNACK %v", ack.Code)
		}
		r.send(&mqtt.Publish{Topic: topic, Payload: []byte("x")})
		r.expectClosed()
	}
	r := dialMQTT(t, s)
	r.connect(&mqtt.Connect{ClientID: "y", CleanSession: true})
	codes := r.subscribe(1, mqtt.Subscription{Filter: "a.b/#", QoS: 1}, mqtt.Subscription{Filter: "ok/+", QoS: 1},
		mqtt.Subscription{Filter: "a/#/b"}, mqtt.Subscription{Filter: "q2", QoS: 2})
	if !bytes.Equal(codes, []byte{mqtt.SubackFailure, 1, mqtt.SubackFailure, 1}) {
		t.Fatalf("SUBACK codes % x", codes)
	}
}

// Retained messages go to new subscriptions with the RETAIN flag, at the
// lower of both QoS; an empty retained publish deletes; "#" does not see
// "$" topics [MQTT-4.7.2-1].
func TestMQTTRetained(t *testing.T) {
	s := startMQTTServer(t)
	pub := pahoConnect(t, s, "pub", true)
	waitToken(t, "retain 1", pub.Publish("home/kitchen/temp", 1, true, "21"))
	waitToken(t, "retain 2", pub.Publish("home/hall/temp", 0, true, "19"))
	waitToken(t, "retain $", pub.Publish("$internal/x", 1, true, "hidden"))
	waitToken(t, "retain gone", pub.Publish("home/attic/temp", 1, true, "5"))
	waitToken(t, "delete", pub.Publish("home/attic/temp", 1, true, ""))

	sub := pahoConnect(t, s, "sub", true)
	ch := pahoSubscribe(t, sub, "home/+/temp", 1)
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		m := nextMQTT(t, ch)
		if !m.Retained() {
			t.Fatalf("%s delivered without RETAIN", m.Topic())
		}
		want := byte(1)
		if m.Topic() == "home/hall/temp" {
			want = 0
		}
		if m.Qos() != want {
			t.Fatalf("%s at QoS %d, want %d", m.Topic(), m.Qos(), want)
		}
		got[m.Topic()] = string(m.Payload())
	}
	if got["home/kitchen/temp"] != "21" || got["home/hall/temp"] != "19" {
		t.Fatalf("retained %v", got)
	}
	// A live publish with retain reaches existing subscribers without the flag.
	waitToken(t, "retain live", pub.Publish("home/kitchen/temp", 1, true, "22"))
	if m := nextMQTT(t, ch); m.Retained() || string(m.Payload()) != "22" {
		t.Fatalf("live message retained=%v %q", m.Retained(), m.Payload())
	}
	all := pahoSubscribe(t, pahoConnect(t, s, "all", true), "#", 0)
	for i := 0; i < 2; i++ {
		if m := nextMQTT(t, all); m.Topic()[0] == '$' {
			t.Fatalf("'#' got %q", m.Topic())
		}
	}
	explicit := pahoSubscribe(t, pahoConnect(t, s, "explicit", true), "$internal/+", 1)
	if m := nextMQTT(t, explicit); string(m.Payload()) != "hidden" {
		t.Fatalf("explicit $ filter got %q", m.Payload())
	}
}

// A will goes out when the connection ends without DISCONNECT, and not
// after a DISCONNECT.
func TestMQTTWill(t *testing.T) {
	s := startMQTTServer(t)
	nc := testutil.Connect(t, s)
	wills, _ := nc.SubscribeSync("status.>")
	nc.Flush()
	watcher := pahoSubscribe(t, pahoConnect(t, s, "watcher", true), "status/#", 1)

	r := dialMQTT(t, s)
	r.connect(&mqtt.Connect{ClientID: "dev1", CleanSession: true,
		Will: &mqtt.Will{Topic: "status/dev1", Payload: []byte("offline"), QoS: 1, Retain: true}})
	r.conn.Close() // dies without DISCONNECT
	if m := testutil.NextMsg(t, wills); m.Subject != "status.dev1" || string(m.Data) != "offline" {
		t.Fatalf("NATS got will %s %q", m.Subject, m.Data)
	}
	if m := nextMQTT(t, watcher); m.Topic() != "status/dev1" || m.Qos() != 1 {
		t.Fatalf("MQTT got will %q qos %d", m.Topic(), m.Qos())
	}
	// Retained: a later subscriber still learns the device is offline. (A
	// will has no PUBACK to wait for: wait for the store.)
	testutil.WaitFor(t, "retained will stored", func() bool {
		_, err := globalMQTTStream(t, s, "$MQTT_rmsgs").LastBySubject("$MQTT.rmsgs." + "status.dev1")
		return err == nil
	})
	late := pahoSubscribe(t, pahoConnect(t, s, "late", true), "status/+", 0)
	if m := nextMQTT(t, late); !m.Retained() || string(m.Payload()) != "offline" {
		t.Fatalf("retained will %v %q", m.Retained(), m.Payload())
	}

	polite := dialMQTT(t, s)
	polite.connect(&mqtt.Connect{ClientID: "dev2", CleanSession: true,
		Will: &mqtt.Will{Topic: "status/dev2", Payload: []byte("offline")}})
	polite.send(&mqtt.Disconnect{})
	polite.expectClosed()
	nc.Publish("status.fence", nil)
	if m := testutil.NextMsg(t, wills); m.Subject != "status.fence" {
		t.Fatalf("will after DISCONNECT: %s %q", m.Subject, m.Data)
	}
}

// Keep-alive: silence for 1.5 times the interval closes the connection
// and sends the will.
func TestMQTTKeepAlive(t *testing.T) {
	s := startMQTTServer(t)
	nc := testutil.Connect(t, s)
	wills, _ := nc.SubscribeSync("gone")
	nc.Flush()
	r := dialMQTT(t, s)
	start := time.Now()
	r.connect(&mqtt.Connect{ClientID: "sleepy", CleanSession: true, KeepAlive: 1,
		Will: &mqtt.Will{Topic: "gone", Payload: []byte("sleepy")}})
	r.send(&mqtt.PingReq{})
	if _, ok := r.next().(*mqtt.PingResp); !ok {
		t.Fatal("no PINGRESP")
	}
	r.expectClosed()
	if d := time.Since(start); d < time.Second || d > 4*time.Second {
		t.Fatalf("closed after %v, want about 1.5 s", d)
	}
	testutil.NextMsg(t, wills)
}

// Users and passwords come from the server's authorization; a user's
// account and permissions apply to MQTT as to NATS.
func TestMQTTAuth(t *testing.T) {
	s := startMQTTServer(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "B"}}
		o.Auth.Users = []config.User{
			{Username: "alice", Password: "pw"},
			{Username: "bob", Password: "pw", Account: "B"},
			{Username: "eve", Password: "pw", Permissions: &config.Permissions{
				Publish:   &config.SubjectPermission{Allow: []string{"eve.>"}},
				Subscribe: &config.SubjectPermission{Allow: []string{"eve.>"}},
			}},
		}
	})
	creds := func(u, p string) func(*paho.ClientOptions) {
		return func(o *paho.ClientOptions) { o.SetUsername(u).SetPassword(p) }
	}
	for _, bad := range [][2]string{{"alice", "wrong"}, {"", ""}, {"mallory", "pw"}} {
		if _, err := pahoDial(s, "x", true, creds(bad[0], bad[1])); err == nil {
			t.Fatalf("connected as %q/%q", bad[0], bad[1])
		}
	}
	r := dialMQTT(t, s)
	if ack := r.connect(&mqtt.Connect{ClientID: "x", CleanSession: true, Username: "alice", HasUsername: true,
		Password: []byte("nope"), HasPassword: true}); ack.Code != mqtt.NotAuthorized {
		t.Fatalf("CONNACK %v, want not authorized", ack.Code)
	}
	r.expectClosed()

	alice := pahoConnect(t, s, "a", true, creds("alice", "pw"))
	bob := pahoConnect(t, s, "b", true, creds("bob", "pw"))
	aliceCh := pahoSubscribe(t, alice, "shared/topic", 1)
	bobCh := pahoSubscribe(t, bob, "shared/topic", 1)
	waitToken(t, "bob publishes", bob.Publish("shared/topic", 1, false, "for B"))
	if m := nextMQTT(t, bobCh); string(m.Payload()) != "for B" {
		t.Fatalf("bob got %q", m.Payload())
	}
	waitToken(t, "alice publishes", alice.Publish("shared/topic", 1, false, "for $G"))
	if m := nextMQTT(t, aliceCh); string(m.Payload()) != "for $G" {
		t.Fatalf("alice got %q (accounts leaked?)", m.Payload())
	}

	eve := dialMQTT(t, s)
	eve.connect(&mqtt.Connect{ClientID: "e", CleanSession: true, Username: "eve", HasUsername: true,
		Password: []byte("pw"), HasPassword: true})
	if codes := eve.subscribe(1, mqtt.Subscription{Filter: "eve/#"}, mqtt.Subscription{Filter: "other/x"}); !bytes.Equal(codes, []byte{0, mqtt.SubackFailure}) {
		t.Fatalf("eve's SUBACK % x", codes)
	}
	// A refused QoS 1 publish is acknowledged and dropped.
	eve.send(&mqtt.Publish{Topic: "other/x", QoS: 1, PacketID: 9, Payload: []byte("no")})
	eve.send(&mqtt.Publish{Topic: "eve/x", QoS: 1, PacketID: 10, Payload: []byte("yes")})
	if ack, ok := eve.next().(*mqtt.PubAck); !ok || ack.PacketID != 9 {
		t.Fatalf("want PUBACK 9, got %#v", ack)
	}
	// PUBACK 10 and eve's own message arrive in either order.
	var gotAck, gotMsg bool
	for !gotAck || !gotMsg {
		switch p := eve.next().(type) {
		case *mqtt.PubAck:
			gotAck = p.PacketID == 10
		case *mqtt.Publish:
			gotMsg = string(p.Payload) == "yes"
			if p.QoS == 1 {
				eve.send(&mqtt.PubAck{PacketID: p.PacketID})
			}
		}
	}
	if v := s.Stats().Violations; v.AuthFailures < 4 || v.SubscribeDenied != 1 || v.PublishDenied != 1 {
		t.Fatalf("violations %+v", v)
	}
}

// Many QoS 1 publishes get their PUBACKs in order; all arrive.
func TestMQTTQoS1Throughput(t *testing.T) {
	s := startMQTTServer(t)
	ch := pahoSubscribe(t, pahoConnect(t, s, "sub", true), "load/+", 1)
	pub := pahoConnect(t, s, "pub", true)
	const n = 500
	toks := make([]paho.Token, n)
	for i := range toks {
		toks[i] = pub.Publish(fmt.Sprintf("load/%d", i%7), 1, false, fmt.Sprint(i))
	}
	for i, tok := range toks {
		waitToken(t, fmt.Sprint("publish ", i), tok)
	}
	seen := map[string]bool{}
	for len(seen) < n {
		seen[string(nextMQTT(t, ch).Payload())] = true
	}
}
