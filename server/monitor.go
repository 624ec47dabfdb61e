package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/midgemq/midge/server/dashboard"
)

// The monitoring HTTP server: nats-server's JSON endpoints with its field
// names and types (so nats-top, prometheus-nats-exporter and scripts work
// unchanged), Prometheus metrics at /metrics and a small dashboard at /.
// Every figure is read when a request comes in; nothing on the message
// path is maintained for monitoring beyond the per-connection atomics the
// server keeps anyway.

// Monitoring endpoint paths, relative to Options.HTTPBasePath.
const (
	RootPath     = "/"
	VarzPath     = "/varz"
	ConnzPath    = "/connz"
	SubszPath    = "/subsz"
	JszPath      = "/jsz"
	HealthzPath  = "/healthz"
	AccountzPath = "/accountz"
	MetricsPath  = "/metrics"
)

// monitor is the server's monitoring state.
type monitor struct {
	http *http.Server
	ln   net.Listener
	done chan struct{} // closed when the HTTP server's goroutine ends

	reqMu sync.Mutex
	reqs  map[string]uint64 // requests per endpoint, for /varz

	closed closedRing // recently closed connections, for /connz
	cpu    cpuSampler
	prom   *promMetrics

	configLoaded atomic.Int64 // unix ns of the last (re)load of the options

	// started is set once Start has finished. The monitoring server runs
	// from before (so /healthz can answer during recovery); until then it
	// must not read the listener, the start time or JetStream accounts,
	// which Start is still writing.
	started atomic.Bool

	totalConns atomic.Uint64
	stalls     atomic.Int64 // producers held back by a slow destination
}

func (m *monitor) init(opts Options) {
	m.reqs = make(map[string]uint64)
	m.closed.limit = opts.MaxClosedClients
	m.configLoaded.Store(time.Now().UnixNano())
}

// startInfo is when the server started and its client port, once Start
// has finished; before, the zero time and the configured port.
func (s *Server) startInfo() (time.Time, int) {
	if !s.mon.started.Load() {
		return time.Time{}, s.opts.Port
	}
	return s.started, s.Addr().Port
}

// normalizeBasePath turns "", "/", "mon", "/mon/" into "" or "/mon".
func normalizeBasePath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}

// startMonitoring listens on the monitoring port, if one is configured.
func (s *Server) startMonitoring() error {
	if s.opts.HTTPPort == 0 {
		return nil
	}
	port := s.opts.HTTPPort
	if port == MonitorRandomPort {
		port = 0
	}
	addr := net.JoinHostPort(s.listenHost(s.opts.HTTPHost), strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen for monitoring on %s: %w", addr, err)
	}
	s.mon.prom = newPromMetrics(s)
	s.mon.ln = ln
	s.mon.done = make(chan struct{})
	s.mon.http = &http.Server{
		Handler:           s.monitorMux(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	go func() {
		defer close(s.mon.done)
		if err := s.mon.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("monitoring server failed", zap.Error(err))
		}
	}()
	return nil
}

// stopMonitoring closes the monitoring server and its connections.
func (s *Server) stopMonitoring() {
	if s.mon.http == nil {
		return
	}
	_ = s.mon.http.Close()
	<-s.mon.done
}

// WebSocketPagePath serves the WebSocket check page.
const WebSocketPagePath = "/websocket"

// MonitorAddr is the monitoring server's address, nil when it is off.
func (s *Server) MonitorAddr() *net.TCPAddr {
	if s.mon.ln == nil {
		return nil
	}
	return s.mon.ln.Addr().(*net.TCPAddr)
}

func (s *Server) monitorMux() *http.ServeMux {
	base := normalizeBasePath(s.opts.HTTPBasePath)
	mux := http.NewServeMux()
	handle := func(path string, h http.HandlerFunc) {
		mux.HandleFunc(base+path, func(w http.ResponseWriter, r *http.Request) {
			s.mon.countRequest(path)
			h(w, r)
		})
	}
	handle(VarzPath, s.handleVarz)
	handle(ConnzPath, s.handleConnz)
	handle(SubszPath, s.handleSubsz)
	handle("/subscriptionsz", s.handleSubsz) // the reference server's alias
	handle(JszPath, s.handleJsz)
	handle(HealthzPath, s.handleHealthz)
	handle(AccountzPath, s.handleAccountz)
	handle(MetricsPath, s.mon.prom.handler().ServeHTTP)
	// A page that connects back over WebSocket, to check that listener
	// from a browser.
	handle(WebSocketPagePath, s.WebSocketPageHandler().ServeHTTP)
	mux.HandleFunc(base+RootPath, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != base+RootPath && r.URL.Path != base {
			http.NotFound(w, r)
			return
		}
		s.mon.countRequest(RootPath)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(dashboard.Page)
	})
	return mux
}

func (m *monitor) countRequest(path string) {
	m.reqMu.Lock()
	m.reqs[path]++
	m.reqMu.Unlock()
}

func (m *monitor) requestCounts() map[string]uint64 {
	m.reqMu.Lock()
	defer m.reqMu.Unlock()
	out := make(map[string]uint64, len(m.reqs))
	for k, v := range m.reqs {
		out[k] = v
	}
	return out
}

// writeJSON answers with indented JSON, as the reference server does, and
// allows cross-origin reads so browser dashboards elsewhere can poll.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// badRequest answers 400 with a plain-text reason, as the reference
// server does for malformed query parameters.
func badRequest(w http.ResponseWriter, err error) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(err.Error()))
}

// query reads typed URL query parameters, remembering the first error.
type query struct {
	r   *http.Request
	err error
}

func (q *query) str(name string) string { return q.r.URL.Query().Get(name) }

func (q *query) boolean(name string) bool {
	v := q.str(name)
	if v == "" || q.err != nil {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		q.err = fmt.Errorf("Error decoding boolean for '%s': %v", name, err)
	}
	return b
}

func (q *query) integer(name string) int {
	v := q.str(name)
	if v == "" || q.err != nil {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		q.err = fmt.Errorf("Error decoding int for '%s': %v", name, err)
	}
	return n
}

func (q *query) uint64(name string) uint64 {
	v := q.str(name)
	if v == "" || q.err != nil {
		return 0
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		q.err = fmt.Errorf("Error decoding uint64 for '%s': %v", name, err)
	}
	return n
}

// page returns the [offset, offset+limit) window of n items, clamped.
func page(n, offset, limit int) (from, to int) {
	from = min(max(offset, 0), n)
	return from, from + min(limit, n-from)
}

// uptimeString renders a duration the way the reference server's
// monitoring does: whole seconds, with days and years spelled out.
func uptimeString(d time.Duration) string {
	secs := int64(d / time.Second)
	mins, hrs := secs/60, secs/3600
	days := hrs / 24
	years := days / 365
	switch {
	case years > 0:
		return fmt.Sprintf("%dy%dd%dh%dm%ds", years, days%365, hrs%24, mins%60, secs%60)
	case days > 0:
		return fmt.Sprintf("%dd%dh%dm%ds", days, hrs%24, mins%60, secs%60)
	case hrs > 0:
		return fmt.Sprintf("%dh%dm%ds", hrs, mins%60, secs%60)
	case mins > 0:
		return fmt.Sprintf("%dm%ds", mins, secs%60)
	}
	return fmt.Sprintf("%ds", secs)
}
