package mqttgw

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/mqtt"
)

// client is one MQTT client connection: the broker's connection core
// (outbound queue, the writer goroutine, close once) plus the MQTT session
// handling. Its read loop decodes packets and publishes; the core's writer
// flushes what others queued and, once closed, runs the teardown, including
// the will, as its last act outside any publisher's call.
type client struct {
	ms   *Gateway
	core *broker.Conn
	cid  uint64
	host string

	// Set by the read loop at CONNECT, before anything else can see the
	// connection through a session or subscription; read-only afterwards.
	clientID  string
	acc       *broker.Account
	perms     *broker.Permissions
	ma        *account
	sess      *session
	keepAlive time.Duration

	// Read loop only.
	connected bool
	pub       *broker.Publisher // core publishes

	// will is published on an abnormal close; DISCONNECT, a takeover or
	// shutdown clear it first.
	willMu sync.Mutex
	will   *mqtt.Will

	pubacks pubackQueue

	detached chan struct{} // closed once the session let go of the connection
}

func newClient(ms *Gateway, nc net.Conn) *client {
	c := &client{ms: ms, detached: make(chan struct{})}
	c.core = ms.broker.NewConn(nc, broker.KindMQTT, broker.ConnHooks{
		Closing:  c.closing,
		Teardown: c.teardown,
		Flushed:  func(n int64) { c.core.CountOutBytes(n) },
	})
	c.cid, c.host = c.core.CID(), c.core.Host()
	return c
}

// run serves the connection until it closes: the writer on its own
// goroutine, the read loop on this one.
func (c *client) run() {
	go c.core.WriteLoop()
	c.readLoop()
}

func (c *client) closed() bool { return c.core.IsClosed() }

// maxPacketOverhead is what a PUBLISH carries besides its payload at most:
// a topic of 65535 bytes, its length and a packet identifier.
const maxPacketOverhead = 2 + 65535 + 2

func (c *client) readLoop() {
	rb := make([]byte, 16<<10)
	var buf []byte // bytes received and not yet decoded
	maxPacket := c.ms.broker.Options().MaxPayload + maxPacketOverhead
	for {
		c.setReadDeadline()
		n, err := c.core.NetConn().Read(rb)
		if n > 0 {
			buf = append(buf, rb[:n]...)
			used, perr := c.handlePackets(buf, maxPacket)
			if c.pub != nil {
				c.pub.Flush()
			}
			buf = append(buf[:0], buf[used:]...)
			if perr != nil {
				c.packetError(perr)
				return
			}
		}
		if err != nil {
			c.readFailed(err)
			return
		}
	}
}

// setReadDeadline enforces the time to CONNECT (the auth timeout) and then
// the keep-alive: one and a half times the client's interval [MQTT-3.1.2-24].
func (c *client) setReadDeadline() {
	switch {
	case !c.connected:
		_ = c.core.NetConn().SetReadDeadline(time.Now().Add(c.ms.broker.AuthTimeout()))
	case c.keepAlive > 0:
		_ = c.core.NetConn().SetReadDeadline(time.Now().Add(c.keepAlive * 3 / 2))
	default:
		_ = c.core.NetConn().SetReadDeadline(time.Time{})
	}
}

func (c *client) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		c.closeConnection(broker.CloseClientClosed, true)
	case errors.As(err, &ne) && ne.Timeout():
		if c.connected {
			c.ms.broker.CountViolation(broker.ViolationStale)
			c.logInfo("MQTT keep-alive expired")
			c.closeConnection(broker.CloseStale, false)
		} else {
			c.ms.broker.CountViolation(broker.ViolationAuthTimeout)
			c.logInfo("MQTT client sent no CONNECT in time")
			c.closeConnection(broker.CloseAuthTimeout, false)
		}
	default:
		c.closeConnection(broker.CloseReadError, false)
	}
}

// errMQTTClose ends the connection after a handled problem (already logged,
// or a CONNACK refusal already queued).
var errMQTTClose = errors.New("mqtt: closing connection")

// handlePackets decodes and handles every whole packet in buf and returns
// the bytes used; an error closes the connection.
func (c *client) handlePackets(buf []byte, maxPacket int) (int, error) {
	used := 0
	for used < len(buf) && !c.closed() {
		p, n, err := mqtt.Decode(buf[used:], maxPacket)
		if err == mqtt.ErrIncomplete {
			return used, nil
		}
		if err != nil {
			return used, err
		}
		used += n
		if err := c.handle(p); err != nil {
			return used, err
		}
	}
	return used, nil
}

func (c *client) handle(p mqtt.Packet) error {
	if !c.connected {
		cp, ok := p.(*mqtt.Connect)
		if !ok {
			c.logInfo("MQTT packet before CONNECT", "packet", p.Type()) // [MQTT-3.1.0-1]
			return errMQTTClose
		}
		return c.handleConnect(cp)
	}
	switch p := p.(type) {
	case *mqtt.Publish:
		return c.handlePublish(p)
	case *mqtt.PubAck:
		c.sess.pubAcked(p.PacketID)
	case *mqtt.Subscribe:
		return c.handleSubscribe(p)
	case *mqtt.Unsubscribe:
		return c.handleUnsubscribe(p)
	case *mqtt.PingReq:
		c.send(mqtt.AppendPingResp(nil))
	case *mqtt.Disconnect:
		c.clearWill() // [MQTT-3.14.4-3]
		c.closeConnection(broker.CloseClientClosed, true)
	case *mqtt.Connect:
		c.logInfo("second MQTT CONNECT") // [MQTT-3.1.0-2]
		return errMQTTClose
	case *mqtt.PubRec, *mqtt.PubRel, *mqtt.PubComp:
		c.logInfo("MQTT QoS 2 is not supported", "packet", p.Type())
		return errMQTTClose
	default: // packets only a server sends
		c.logInfo("MQTT client sent a server packet", "packet", p.Type())
		return errMQTTClose
	}
	return nil
}

// packetError closes the connection after a decode or handling error. The
// will is published: the client broke the protocol [MQTT-3.1.2-8].
func (c *client) packetError(err error) {
	var me *mqtt.MalformedError
	var tl *mqtt.TooLargeError
	switch {
	case errors.As(err, &me), errors.As(err, &tl):
		c.ms.malformed.Add(1)
		if tl != nil {
			c.ms.broker.CountViolation(broker.ViolationMaxPayload)
		}
		c.logInfo("closing MQTT connection", "error", err)
	}
	c.closeConnection(broker.CloseProtocolError, true)
}

// send queues a packet from any goroutine and wakes the writer.
func (c *client) send(b []byte) { c.core.Send(b) }

// sendPublish queues one PUBLISH, the payload copied straight into the
// outbound chunks after the header.
func (c *client) sendPublish(topic string, packetID uint16, qos byte, retain, dup bool, payload []byte) {
	var scratch [128]byte
	hdr := mqtt.AppendPublishHeader(scratch[:0], topic, packetID, qos, retain, dup, len(payload))
	if c.core.SendParts(hdr, payload) {
		c.core.CountOut()
	}
}

// closeConnection ends the connection once; the writer does the rest.
func (c *client) closeConnection(reason broker.CloseReason, flush bool) {
	c.core.Close(reason, flush)
}

// closing is the core's Closing hook: a shutdown is not an abnormal close,
// so no will goes out.
func (c *client) closing(reason broker.CloseReason) {
	if reason == broker.CloseServerShutdown {
		c.clearWill()
	}
}

// teardown runs on the writer once the connection is closed: the session
// lets go of it (and a clean session ends), then the will goes out.
func (c *client) teardown() {
	if c.sess != nil {
		c.sess.detach(c)
	}
	close(c.detached)
	c.willMu.Lock()
	will := c.will
	c.will = nil
	c.willMu.Unlock()
	if will != nil {
		c.ma.publishWill(c, will)
	}
}

func (c *client) clearWill() {
	c.willMu.Lock()
	c.will = nil
	c.willMu.Unlock()
}

func (c *client) logInfo(msg string, fields ...any) {
	fields = append(fields, "cid", c.cid, "remote", c.host)
	if c.clientID != "" {
		fields = append(fields, "client_id", c.clientID)
	}
	c.ms.log.Info(msg, fields...)
}
