package mqttgw_test

import (
	"errors"
	"io"
	"net"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/mqtt"
	"github.com/midgemq/midge/server"
)

// startMQTTServer runs a server with an MQTT listener on a free port and,
// unless a mutation turns it off, JetStream in a temporary directory.
func startMQTTServer(t testing.TB, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	dir := t.TempDir()
	return testutil.StartServer(t, append([]func(*config.Options){func(o *config.Options) {
		o.JetStream, o.StoreDir = true, dir
		o.MQTT = config.MQTTOptions{Host: "127.0.0.1", Port: -1}
	}}, mutate...)...)
}

// pahoConnect connects an Eclipse Paho client; it does not reconnect on
// its own, so tests see every close.
func pahoConnect(t testing.TB, s *server.Server, id string, clean bool, mutate ...func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	c, err := pahoDial(s, id, clean, mutate...)
	if err != nil {
		t.Fatalf("paho connect %q: %v", id, err)
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func pahoDial(s *server.Server, id string, clean bool, mutate ...func(*paho.ClientOptions)) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(s.MQTTURL()).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).
		SetOrderMatters(false)
	for _, m := range mutate {
		m(o)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	return c, tok.Error()
}

// waitToken fails the test unless the paho operation completes cleanly.
func waitToken(t testing.TB, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// pahoSubscribe subscribes and returns a channel of the messages.
func pahoSubscribe(t testing.TB, c paho.Client, filter string, qos byte) <-chan paho.Message {
	t.Helper()
	ch := make(chan paho.Message, 1024)
	tok := c.Subscribe(filter, qos, func(_ paho.Client, m paho.Message) { ch <- m })
	waitToken(t, "subscribe "+filter, tok)
	if st, ok := tok.(*paho.SubscribeToken); ok {
		if code := st.Result()[filter]; code == mqtt.SubackFailure {
			t.Fatalf("subscription to %q refused", filter)
		}
	}
	return ch
}

const mqttMsgWait = 5 * time.Second

func nextMQTT(t testing.TB, ch <-chan paho.Message) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(mqttMsgWait):
		t.Fatal("no MQTT message")
		return nil
	}
}

// rawMQTT is a hand-driven MQTT client on midge's own codec, for what a
// library hides: packet identifiers, DUP flags, withheld PUBACKs, bad bytes.
type rawMQTT struct {
	t    testing.TB
	conn net.Conn
	buf  []byte
}

func dialMQTT(t testing.TB, s *server.Server) *rawMQTT {
	t.Helper()
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawMQTT{t: t, conn: conn}
}

func (r *rawMQTT) send(p mqtt.Packet) { r.sendRaw(mqtt.Append(nil, p)) }

func (r *rawMQTT) sendRaw(b []byte) {
	r.t.Helper()
	if _, err := r.conn.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next reads the next packet; io.EOF (or a reset) when the server closed.
func (r *rawMQTT) nextErr(wait time.Duration) (mqtt.Packet, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		if p, n, err := mqtt.Decode(r.buf, 0); err == nil {
			r.buf = r.buf[n:]
			return p, nil
		} else if err != mqtt.ErrIncomplete {
			return nil, err
		}
		var b [4096]byte
		n, err := r.conn.Read(b[:])
		r.buf = append(r.buf, b[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

func (r *rawMQTT) next() mqtt.Packet {
	r.t.Helper()
	p, err := r.nextErr(mqttMsgWait)
	if err != nil {
		r.t.Fatalf("reading a packet: %v", err)
	}
	return p
}

// expectClosed reads until the server closes the connection.
func (r *rawMQTT) expectClosed() {
	r.t.Helper()
	for i := 0; i < 100; i++ {
		p, err := r.nextErr(mqttMsgWait)
		if err == nil {
			continue // packets queued before the close
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("connection still open; last packet %v", p)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err) {
			return
		}
		r.t.Fatalf("unexpected error %v", err)
	}
	r.t.Fatal("too many packets before the close")
}

func isConnReset(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "read"
}

// connect sends CONNECT and returns the CONNACK.
func (r *rawMQTT) connect(p *mqtt.Connect) *mqtt.ConnAck {
	r.t.Helper()
	if p.ProtocolName == "" {
		p.ProtocolName, p.ProtocolLevel = mqtt.ProtocolName, mqtt.ProtocolLevel311
	}
	r.send(p)
	ack, ok := r.next().(*mqtt.ConnAck)
	if !ok {
		r.t.Fatal("no CONNACK")
	}
	return ack
}

// expectPublish reads the next packet, which must be a PUBLISH.
func (r *rawMQTT) expectPublish() *mqtt.Publish {
	r.t.Helper()
	p := r.next()
	pub, ok := p.(*mqtt.Publish)
	if !ok {
		r.t.Fatalf("got %T, want PUBLISH", p)
	}
	pub.Payload = append([]byte(nil), pub.Payload...)
	return pub
}

// subscribe sends SUBSCRIBE and returns the SUBACK's codes.
func (r *rawMQTT) subscribe(id uint16, subs ...mqtt.Subscription) []byte {
	r.t.Helper()
	r.send(&mqtt.Subscribe{PacketID: id, Subscriptions: subs})
	ack, ok := r.next().(*mqtt.SubAck)
	if !ok || ack.PacketID != id {
		r.t.Fatalf("no SUBACK for %d: %#v", id, ack)
	}
	return ack.ReturnCodes
}

// globalMQTTStream is one of the global account's MQTT streams
// ("$MQTT_msgs", "$MQTT_rmsgs", "$MQTT_sess").
func globalMQTTStream(t testing.TB, s *server.Server, name string) *jetstore.Stream {
	t.Helper()
	for _, ja := range s.JetStream() {
		if ja.Name != broker.GlobalAccountName {
			continue
		}
		st, err := ja.Store.Stream(name)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Fatal("no JetStream in the global account")
	return nil
}
