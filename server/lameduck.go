package server

import "time"

// Lame duck mode takes a server out of service without taking its clients
// by surprise: it stops accepting, tells every client (an INFO with
// "ldm":true), waits a grace period so that several servers put into lame
// duck together do not push their clients onto each other, then closes the
// clients spread over the rest of the lame duck duration, and shuts down.

// InLameDuckMode reports whether lame duck mode was entered.
func (s *Server) InLameDuckMode() bool { return s.lameDuck.Load() }

// LameDuckShutdown puts the server into lame duck mode and returns once it
// has shut down. Calling it again, or on a server that is not running,
// does nothing.
func (s *Server) LameDuckShutdown() {
	s.mu.Lock()
	if s.stopping || s.listener == nil || !s.lameDuck.CompareAndSwap(false, true) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	opts := s.Options()
	grace, duration := opts.LameDuckGracePeriod, opts.LameDuckDuration
	s.serving.Store(false)
	s.log.Info("entering lame duck mode, no longer accepting clients",
		"grace_period", grace, "duration", duration)
	_ = s.listener.Close()
	s.stopAcceptingKafka()
	// Streams commit and acknowledge what they hold while every client is
	// still connected to receive the acks, as the reference server does.
	// Kafka clients, which have no lame duck notice, then get their last
	// answers and are closed.
	s.js.Close()
	s.closeKafka()

	if s.routes != nil {
		// The other servers stop sending clients here.
		s.routes.EnterLameDuck()
	}
	clients := s.broker.EnterLameDuck()
	if len(clients) > 0 && s.waitOrStopped(grace) {
		s.broker.CloseGradually(clients, duration-grace, s.stopped)
	}
	s.Shutdown()
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
