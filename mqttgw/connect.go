package mqttgw

import (
	"crypto/tls"
	"strings"
	"time"

	"github.com/nats-io/nuid"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/mqtt"
)

// CONNECT: authentication through the server's authenticator, the session
// (clean, resumed from memory, or restored from the stream store), the
// will, and the CONNACK, which always goes out before anything the session
// delivers.

// takeoverWait bounds the wait for a previous connection with the same
// client identifier to let go of its session.
const takeoverWait = 5 * time.Second

func (c *client) handleConnect(p *mqtt.Connect) error {
	if p.ProtocolName != mqtt.ProtocolName || p.ProtocolLevel != mqtt.ProtocolLevel311 {
		c.logInfo("unsupported MQTT protocol", "name", p.ProtocolName,
			"level", p.ProtocolLevel)
		return c.refuse(mqtt.UnacceptableProtocol) // [MQTT-3.1.2-2]
	}
	user := c.authenticate(p)
	if user == nil {
		return c.refuse(mqtt.NotAuthorized)
	}
	c.acc, c.perms = user.Account(), user.Permissions()
	if p.ClientID == "" {
		if !p.CleanSession {
			c.logInfo("MQTT client without identifier asked for a persistent session")
			return c.refuse(mqtt.IdentifierRejected) // [MQTT-3.1.3-8]
		}
		p.ClientID = "midge-" + nuid.Next() // [MQTT-3.1.3-6]
	}
	c.clientID = p.ClientID
	ma, err := c.ms.account(c.acc)
	if err != nil {
		c.ms.log.Error("MQTT streams unavailable", "account", c.acc.Name(), "error", err)
		return c.refuse(mqtt.ServerUnavailable)
	}
	c.ma = ma
	if code := c.checkWill(p.Will); code != mqtt.Accepted {
		return c.refuse(code)
	}
	if !p.CleanSession && !ma.persistent {
		c.logInfo("MQTT persistent sessions need JetStream; refusing (clean session works)")
		return c.refuse(mqtt.ServerUnavailable)
	}
	sess, present, err := ma.openSession(c, p.ClientID, p.CleanSession)
	if err != nil {
		c.ms.log.Error("MQTT session", "client_id", p.ClientID, "error", err)
		return c.refuse(mqtt.ServerUnavailable)
	}
	c.sess = sess
	c.keepAlive = time.Duration(p.KeepAlive) * time.Second
	if p.Will != nil {
		w := *p.Will
		w.Payload = append([]byte(nil), w.Payload...) // the read buffer is reused
		c.will = &w
	}
	c.pub = c.acc.NewPublisher()
	c.connected = true
	// The CONNACK is queued first, so it precedes anything the session
	// delivers, but the writer is woken only once the subscriptions are
	// in place: a client may rely on them as soon as it reads the CONNACK.
	if !c.core.Enqueue(mqtt.AppendConnAck(nil, present, mqtt.Accepted)) {
		return errMQTTClose
	}
	err = sess.attach(c)
	c.core.Kick()
	if err != nil {
		c.ms.log.Error("MQTT session could not resume", "client_id", p.ClientID, "error", err)
		return errMQTTClose
	}
	if c.ms.broker.Options().Debug {
		c.ms.log.Debug("MQTT client connected", "cid", c.cid, "client_id", p.ClientID,
			"clean", p.CleanSession, "session_present", present)
	}
	return nil
}

// refuse answers CONNECT with a failure code and closes [MQTT-3.2.2-5].
func (c *client) refuse(code mqtt.ConnackCode) error {
	c.send(mqtt.AppendConnAck(nil, false, code))
	c.closeConnection(broker.CloseProtocolError, true)
	return errMQTTClose
}

// authenticate maps the user name and password onto the server's schemes:
// users (the password is the user's), a single user, or a token (the
// password is the token, as in nats-server).
func (c *client) authenticate(p *mqtt.Connect) *broker.User {
	var tlsState *tls.ConnectionState
	if tc, ok := c.core.NetConn().(*tls.Conn); ok {
		st := tc.ConnectionState()
		tlsState = &st
	}
	if u := c.ms.broker.Authenticate(p.Username, string(p.Password), string(p.Password), tlsState); u != nil {
		return u
	}
	c.ms.broker.CountViolation(broker.ViolationAuthFailure)
	c.logInfo("MQTT authentication failed", "user", p.Username)
	return nil
}

// checkWill validates the will at CONNECT, so a will that could never be
// published is refused now rather than lost later.
func (c *client) checkWill(w *mqtt.Will) mqtt.ConnackCode {
	if w == nil {
		return mqtt.Accepted
	}
	subject, err := mqtt.TopicToSubject(w.Topic)
	if err != nil || strings.HasPrefix(subject, mqttReservedPrefix) {
		c.logInfo("MQTT will topic refused", "topic", w.Topic, "error", err)
		return mqtt.NotAuthorized
	}
	if !c.perms.CanPublish(subject) {
		c.ms.broker.CountViolation(broker.ViolationPublishDenied)
		c.logInfo("MQTT will topic not allowed for this user", "topic", w.Topic)
		return mqtt.NotAuthorized
	}
	if w.QoS > 1 {
		c.logInfo("MQTT QoS 2 is not supported (will)")
		return mqtt.ServerUnavailable
	}
	if (w.QoS > 0 || w.Retain) && !c.ma.persistent {
		c.logInfo("MQTT will with QoS 1 or retain needs JetStream")
		return mqtt.ServerUnavailable
	}
	return mqtt.Accepted
}
