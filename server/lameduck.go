package server

import (
	"encoding/json"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/parser"
)

// Lame duck mode (PROTOCOL.md §8) takes a server out of service without
// taking its clients by surprise: it stops accepting, tells every client
// with an INFO carrying "ldm":true (nats.go calls its LameDuckModeHandler
// and, once closed, reconnects elsewhere), waits a grace period so that
// several servers put into lame duck together do not push their clients
// onto each other, then closes the clients spread over the rest of the
// lame duck duration, and shuts down.

type lameDuck struct {
	active atomic.Bool
}

// maxCloseInterval caps the pause between two client closes: a handful of
// clients need not be spread over the whole duration.
const maxCloseInterval = time.Second

// InLameDuckMode reports whether lame duck mode was entered.
func (s *Server) InLameDuckMode() bool { return s.ldm.active.Load() }

// LameDuckShutdown puts the server into lame duck mode and returns once it
// has shut down. Calling it again, or on a server that is not running,
// does nothing.
func (s *Server) LameDuckShutdown() {
	s.mu.Lock()
	if s.stopping || s.listener == nil || !s.ldm.active.CompareAndSwap(false, true) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	opts := s.getOpts()
	grace, duration := opts.LameDuckGracePeriod, opts.LameDuckDuration
	s.serving.Store(false)
	s.log.Info("entering lame duck mode, no longer accepting clients",
		"grace_period", grace, "duration", duration)
	_ = s.listener.Close()
	// Streams commit and acknowledge what they hold while every client is
	// still connected to receive the acks, as the reference server does.
	s.closeJetStream()

	clients := s.clientList()
	rand.Shuffle(len(clients), func(i, j int) { clients[i], clients[j] = clients[j], clients[i] })
	for _, c := range clients {
		s.sendLameDuckInfo(c)
	}
	if len(clients) > 0 && s.waitOrStopped(grace) {
		s.closeGradually(clients, duration-grace)
	}
	s.Shutdown()
}

// sendLameDuckInfo sends the async INFO with "ldm":true to a client that
// negotiated a protocol that understands async INFOs.
func (s *Server) sendLameDuckInfo(c *client) {
	c.mu.Lock()
	understands := c.mon.hello && c.mon.protocol >= 1
	c.mu.Unlock()
	if !understands {
		return
	}
	info := s.baseInfo()
	info.ClientID, info.ClientIP, info.LameDuckMode = c.cid, c.host, true
	js, err := json.Marshal(info)
	if err != nil {
		panic("server: INFO does not marshal: " + err.Error()) // fixed struct of plain fields
	}
	c.sendProtoNow(parser.AppendInfo(nil, js))
}

// closeGradually closes the clients one by one over span, pausing between
// closes for a random half to whole share of it so that clients do not
// reconnect elsewhere in lockstep. It stops early if the server is shut
// down meanwhile.
func (s *Server) closeGradually(clients []*client, span time.Duration) {
	if span <= 0 {
		span = time.Second
	}
	interval := min(span/time.Duration(len(clients)), maxCloseInterval)
	s.log.Info("lame duck mode: closing clients", "clients", len(clients), "interval", interval)
	for i, c := range clients {
		c.closeConnection(closeServerShutdown, true)
		if i == len(clients)-1 || interval <= 0 {
			continue
		}
		pause := interval/2 + rand.N(interval/2+1)
		if !s.waitOrStopped(pause) {
			return
		}
	}
}

// waitOrStopped waits d and reports true, or false if the server stopped
// first.
func (s *Server) waitOrStopped(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.stopped:
		return false
	}
}
