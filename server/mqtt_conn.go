package server

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/mqtt"
)

// mqttConn is one MQTT client connection. Like a NATS client it has a read
// loop (decoding packets, publishing) and a writer goroutine (flushing the
// pooled outbound queue others fill); it does its teardown, including the
// will, on the writer as its last act, outside any publisher's call.
type mqttConn struct {
	ms   *mqttServer
	srv  *Server
	cid  uint64
	conn net.Conn
	host string

	out outbound
	w   writer

	// Set by the read loop at CONNECT, before anything else can see the
	// connection through a session or subscription; read-only afterwards.
	clientID  string
	acc       *Account
	perms     *permSet
	ma        *mqttAccount
	sess      *mqttSession
	keepAlive time.Duration

	// Read loop only.
	connected bool
	pub       *Publisher // core publishes

	// will is published on an abnormal close; DISCONNECT, a takeover or
	// shutdown clear it first.
	willMu sync.Mutex
	will   *mqtt.Will

	pubacks pubackQueue

	closed       atomic.Bool
	flushOnClose atomic.Bool
	reason       atomic.Uint32 // closeReason of the first close
	done         chan struct{}
	detached     chan struct{} // closed once the session let go of the connection
}

func newMQTTConn(ms *mqttServer, conn net.Conn, cid uint64) *mqttConn {
	s := ms.srv
	c := &mqttConn{
		ms: ms, srv: s, cid: cid, conn: conn,
		out:      newOutbound(s.opts.MaxPending),
		w:        writer{conn: conn, deadline: s.opts.WriteDeadline},
		done:     make(chan struct{}),
		detached: make(chan struct{}),
	}
	if a, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
		c.host = a.IP.String()
	}
	return c
}

func (c *mqttConn) run() {
	go c.writeLoop()
	c.readLoop()
}

// maxPacketOverhead is what a PUBLISH carries besides its payload at most:
// a topic of 65535 bytes, its length and a packet identifier.
const maxPacketOverhead = 2 + 65535 + 2

func (c *mqttConn) readLoop() {
	rb := make([]byte, 16<<10)
	var buf []byte // bytes received and not yet decoded
	maxPacket := c.srv.opts.MaxPayload + maxPacketOverhead
	for {
		c.setReadDeadline()
		n, err := c.conn.Read(rb)
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
func (c *mqttConn) setReadDeadline() {
	switch {
	case !c.connected:
		_ = c.conn.SetReadDeadline(time.Now().Add(c.srv.authn().timeout))
	case c.keepAlive > 0:
		_ = c.conn.SetReadDeadline(time.Now().Add(c.keepAlive * 3 / 2))
	default:
		_ = c.conn.SetReadDeadline(time.Time{})
	}
}

func (c *mqttConn) readFailed(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		c.closeConnection(closeClientClosed, true)
	case errors.As(err, &ne) && ne.Timeout():
		if c.connected {
			c.srv.viol.staleConnections.Add(1)
			c.logInfo("MQTT keep-alive expired")
			c.closeConnection(closeStale, false)
		} else {
			c.srv.viol.authTimeouts.Add(1)
			c.logInfo("MQTT client sent no CONNECT in time")
			c.closeConnection(closeAuthTimeout, false)
		}
	default:
		c.closeConnection(closeReadError, false)
	}
}

// errMQTTClose ends the connection after a handled problem (already logged,
// or a CONNACK refusal already queued).
var errMQTTClose = errors.New("mqtt: closing connection")

// handlePackets decodes and handles every whole packet in buf and returns
// the bytes used; an error closes the connection.
func (c *mqttConn) handlePackets(buf []byte, maxPacket int) (int, error) {
	used := 0
	for used < len(buf) && !c.closed.Load() {
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

func (c *mqttConn) handle(p mqtt.Packet) error {
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
		c.closeConnection(closeClientClosed, true)
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
func (c *mqttConn) packetError(err error) {
	var me *mqtt.MalformedError
	var tl *mqtt.TooLargeError
	switch {
	case errors.As(err, &me), errors.As(err, &tl):
		c.ms.malformed.Add(1)
		if tl != nil {
			c.srv.viol.maxPayload.Add(1)
		}
		c.logInfo("closing MQTT connection", "error", err)
	}
	c.closeConnection(closeProtocolError, true)
}

// send queues a packet from any goroutine and wakes the writer.
func (c *mqttConn) send(b []byte) {
	if !c.out.enqueue(b) {
		c.slowConsumer()
		return
	}
	c.out.kick()
}

// sendPublish queues one PUBLISH, the payload copied straight into the
// outbound chunks after the header.
func (c *mqttConn) sendPublish(topic string, packetID uint16, qos byte, retain, dup bool, payload []byte) {
	var scratch [128]byte
	hdr := mqtt.AppendPublishHeader(scratch[:0], topic, packetID, qos, retain, dup, len(payload))
	if !c.out.enqueueParts(hdr, payload) {
		c.slowConsumer()
		return
	}
	c.ms.outMsgs.Add(1)
	c.out.kick()
}

// enqueueParts queues two pieces as one unit (all or nothing).
func (o *outbound) enqueueParts(a, b []byte) bool {
	n := int64(len(a) + len(b))
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return true
	}
	if o.pending+n > o.limit {
		return false
	}
	o.pending += n
	o.copyIn(a)
	o.copyIn(b)
	return true
}

func (c *mqttConn) slowConsumer() {
	if c.closed.Load() {
		return
	}
	c.srv.slowConsumers.Add(1)
	c.srv.log.Warn("slow MQTT consumer detected, closing connection", "cid", c.cid,
		"remote", c.host, "client_id", c.clientID)
	c.closeConnection(closeSlowConsumer, false)
}

func (c *mqttConn) writeLoop() {
	for {
		select {
		case <-c.out.signal:
			if c.closed.Load() {
				continue
			}
			n, err := c.w.flush(&c.out)
			c.ms.outBytes.Add(n)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					c.slowConsumer()
				} else {
					c.closeConnection(closeWriteError, false)
				}
			}
		case <-c.done:
			c.teardown()
			if c.flushOnClose.Load() {
				c.w.deadline = min(c.w.deadline, closeFlushDeadline)
				n, _ := c.w.flush(&c.out)
				c.ms.outBytes.Add(n)
			}
			_ = c.conn.Close()
			c.out.close()
			c.ms.gone(c)
			return
		}
	}
}

// closeConnection ends the connection once; the writer does the rest.
func (c *mqttConn) closeConnection(reason closeReason, flush bool) {
	if c.closed.Swap(true) {
		return
	}
	c.reason.Store(uint32(reason))
	c.flushOnClose.Store(flush)
	if reason == closeServerShutdown {
		c.clearWill()
	}
	if !flush {
		_ = c.conn.Close()
	}
	close(c.done)
	if c.srv.opts.Debug {
		c.srv.log.Debug("MQTT client closed", "cid", c.cid, "remote", c.host,
			"client_id", c.clientID, "reason", reason)
	}
}

// teardown runs on the writer once the connection is closed: the session
// lets go of it (and a clean session ends), then the will goes out.
func (c *mqttConn) teardown() {
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

func (c *mqttConn) clearWill() {
	c.willMu.Lock()
	c.will = nil
	c.willMu.Unlock()
}

func (c *mqttConn) logInfo(msg string, fields ...any) {
	fields = append(fields, "cid", c.cid, "remote", c.host)
	if c.clientID != "" {
		fields = append(fields, "client_id", c.clientID)
	}
	c.srv.log.Info(msg, fields...)
}
