package server

import (
	"net"
	"net/http"
	"time"

	"github.com/midgemq/midge/jsapi"
	"github.com/midgemq/midge/monitor"
)

// The server is the monitoring's Source: it knows the listeners, the life
// cycle and the JetStream of each account.

// startMonitoring listens on the monitoring port, if one is configured. It
// runs first in Start so that /healthz answers (unavailable) while streams
// are recovered.
func (s *Server) startMonitoring() error { return s.mon.Start() }

func (s *Server) stopMonitoring() {
	s.mon.Close()
	s.prof.Close()
}

// MonitorAddr is the monitoring server's address, nil when it is off.
func (s *Server) MonitorAddr() *net.TCPAddr { return s.mon.Addr() }

// Started is when Start finished, and whether it has.
func (s *Server) Started() (time.Time, bool) {
	if !s.started.Load() {
		return time.Time{}, false
	}
	return s.startedAt, true
}

// Serving reports whether clients can connect.
func (s *Server) Serving() bool { return s.serving.Load() }

// LameDuck reports whether lame duck mode began.
func (s *Server) LameDuck() bool { return s.lameDuck.Load() }

// ClientAddr is the NATS listener's address.
func (s *Server) ClientAddr() *net.TCPAddr { return s.Addr() }

// Protocols returns the per-protocol counters.
func (s *Server) Protocols() monitor.ProtocolStats { return s.ProtocolStats() }

// WebSocketPage serves the WebSocket check page; nil without a listener.
func (s *Server) WebSocketPage() http.Handler {
	if s.ws == nil {
		return nil
	}
	return s.ws.PageHandler()
}

// JetStream lists the accounts that have JetStream, by account name.
func (s *Server) JetStream() []monitor.JetStreamAccount {
	var out []monitor.JetStreamAccount
	for _, a := range s.js.Accounts() {
		out = append(out, monitor.JetStreamAccount{Name: a.Name, Store: a.Store, Dir: a.Dir,
			APILevel: jsapi.APILevel, APIRequests: a.APIRequests, APIErrors: a.APIErrors})
	}
	return out
}

// ProfileAddr is the profiling listener's address, nil without prof_port.
func (s *Server) ProfileAddr() *net.TCPAddr {
	if s.prof == nil {
		return nil
	}
	return s.prof.Addr()
}
