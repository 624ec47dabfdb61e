package kafka

import (
	"bytes"
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASL: PLAIN only, checked by Config.Authenticate, which maps the user
// onto the Backend of the user's account. With SaslHandshake v1 the token
// travels in SaslAuthenticate requests; with v0 the next frame is the bare
// token and a bare (empty) frame answers it. A failed authentication is
// answered and the connection closed, as Kafka does.

const mechanismPlain = "PLAIN"

func (c *conn) handleSaslHandshake(req *kmsg.SASLHandshakeRequest) pending {
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	switch {
	case c.srv.cfg.Authenticate == nil:
		resp.ErrorCode = errUnsupportedSASLMechanism
		resp.SupportedMechanisms = []string{}
	case c.saslMechanism != "" || c.saslDone:
		resp.ErrorCode = errIllegalSASLState
	case req.Mechanism != mechanismPlain:
		resp.ErrorCode = errUnsupportedSASLMechanism
		resp.SupportedMechanisms = []string{mechanismPlain}
	default:
		resp.SupportedMechanisms = []string{mechanismPlain}
		c.saslMechanism = mechanismPlain
		c.rawSASL = req.Version == 0
	}
	return pending{resp: resp}
}

func (c *conn) handleSaslAuthenticate(req *kmsg.SASLAuthenticateRequest) pending {
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	if c.saslMechanism != mechanismPlain || c.rawSASL {
		resp.ErrorCode = errIllegalSASLState
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate without a SaslHandshake for PLAIN")
		return pending{resp: resp, closeAfter: true, reason: "SaslAuthenticate out of order"}
	}
	c.saslMechanism = "" // one token per handshake
	if err := c.authenticatePlain(req.SASLAuthBytes); err != nil {
		resp.ErrorCode = errSASLAuthenticationFailed
		resp.ErrorMessage = kmsg.StringPtr("authentication failed")
		return pending{resp: resp, closeAfter: true, reason: err.Error()}
	}
	resp.SASLAuthBytes = []byte{}
	return pending{resp: resp}
}

// handleRawSASL answers the bare token that follows SaslHandshake v0.
func (c *conn) handleRawSASL(token []byte) pending {
	c.rawSASL, c.saslMechanism = false, ""
	if err := c.authenticatePlain(token); err != nil {
		return pending{closeAfter: true, reason: err.Error()}
	}
	return pending{raw: []byte{}}
}

// authenticatePlain checks a PLAIN token: [authzid] NUL user NUL password.
func (c *conn) authenticatePlain(token []byte) error {
	s := c.srv
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		s.stats.authFailures.Add(1)
		return errors.New("malformed SASL PLAIN token")
	}
	user, pass := string(parts[1]), string(parts[2])
	b, err := s.cfg.Authenticate(user, pass)
	if err != nil || b == nil {
		s.stats.authFailures.Add(1)
		s.log.Warn("Kafka SASL authentication failed", "cid", c.id, "user", user, "remote", c.nc.RemoteAddr().String())
		return errors.New("SASL authentication failed for user " + user)
	}
	c.be, c.acct, c.saslDone = b, s.accountFor(b), true
	s.log.Debug("Kafka client authenticated", "cid", c.id, "user", user)
	return nil
}
