package monitor

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

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/logging"
	"github.com/midgemq/midge/monitor/dashboard"
)

// Monitoring endpoint paths, relative to Options.HTTPBasePath.
const (
	RootPath          = "/"
	VarzPath          = "/varz"
	ConnzPath         = "/connz"
	SubszPath         = "/subsz"
	JszPath           = "/jsz"
	HealthzPath       = "/healthz"
	AccountzPath      = "/accountz"
	MetricsPath       = "/metrics"
	WebSocketPagePath = "/websocket" // the WebSocket check page
)

// Source is what monitoring reads beyond the broker; the server implements
// it. Every figure is read when a request comes in.
type Source interface {
	Broker() *broker.Broker
	// Started is when Start finished, and whether it has. Until then the
	// listeners and JetStream accounts are still being set up.
	Started() (time.Time, bool)
	// Serving reports whether clients can connect (false in lame duck
	// mode and during shutdown); LameDuck whether lame duck mode began.
	Serving() bool
	LameDuck() bool
	// Listener addresses, nil when the listener is off.
	ClientAddr() *net.TCPAddr
	WebSocketAddr() *net.TCPAddr
	MQTTAddr() *net.TCPAddr
	KafkaAddr() *net.TCPAddr
	Protocols() ProtocolStats
	// JetStream lists the accounts that have JetStream, by account name.
	JetStream() []JetStreamAccount
	// WebSocketPage serves the WebSocket check page; nil without a
	// WebSocket listener.
	WebSocketPage() http.Handler
	// Cluster describes the routes; nil without clustering.
	Cluster() *Cluster
}

// JetStreamAccount is one account's JetStream, as monitoring reads it:
// typed calls on its store and the API's request counters.
type JetStreamAccount struct {
	Name     string
	Store    *jetstore.Store
	Dir      string // the store's directory
	APILevel int
	// APIRequests and APIErrors count the account's API requests.
	APIRequests, APIErrors uint64
}

// ProtocolStats are the counters of each client protocol. The NATS figures
// are the TCP clients' only; the broker's Stats sum NATS and WebSocket.
type ProtocolStats struct {
	NATS      broker.ProtocolCounters
	WebSocket broker.ProtocolCounters
	MQTT      broker.ProtocolCounters
	// Kafka counts the Kafka listener's connections and records (record
	// keys, values and headers as bytes).
	Kafka broker.ProtocolCounters
	// KafkaListener are the Kafka listener's own figures.
	KafkaListener KafkaStats
	// WebSocketOriginRefused counts upgrades refused by the origin checks.
	WebSocketOriginRefused int64
	// MQTTMalformed counts MQTT connections closed for a malformed or
	// oversized packet.
	MQTTMalformed int64
}

// KafkaStats are the Kafka listener's figures beside its clients' counts.
type KafkaStats struct {
	Requests      uint64 `json:"requests"`
	Unsupported   uint64 `json:"unsupported_requests"` // answered UNSUPPORTED_VERSION or closed
	Malformed     uint64 `json:"malformed_requests"`   // connections closed for an undecodable frame
	AuthFailures  uint64 `json:"auth_failures"`
	ProduceErrors uint64 `json:"produce_errors"` // partitions answered with an error
	Groups        int    `json:"groups"`         // consumer groups with members
}

// Server is the monitoring HTTP server: nats-server's JSON endpoints with its
// field names and types (so nats-top, prometheus-nats-exporter and scripts
// work unchanged), Prometheus metrics at /metrics and a small dashboard at /.
type Server struct {
	src    Source
	broker *broker.Broker
	log    logging.Logger

	http *http.Server
	ln   net.Listener
	done chan struct{} // closed when the HTTP server's goroutine ends

	reqMu sync.Mutex
	reqs  map[string]uint64 // requests per endpoint, for /varz

	cpu   cpuSampler
	prom  *promMetrics
	rates rateHistory // for the dashboard's chart

	configLoaded atomic.Int64 // unix ns of the last (re)load of the options
}

// New returns the monitoring of src, not yet listening. Its commit
// observer (CommitObserver) may be handed to stores before Start.
func New(src Source) *Server {
	s := &Server{src: src, broker: src.Broker(), log: src.Broker().Logger(), reqs: make(map[string]uint64)}
	s.configLoaded.Store(time.Now().UnixNano())
	s.prom = newPromMetrics(s)
	return s
}

// Reloaded records that the options were (re)loaded now, for /varz.
func (s *Server) Reloaded() { s.configLoaded.Store(time.Now().UnixNano()) }

func (s *Server) opts() *config.Options { return s.broker.Options() }

// startInfo is when the server started and its client port, once Start
// has finished; before, the zero time and the configured port.
func (s *Server) startInfo() (time.Time, int) {
	started, ok := s.src.Started()
	if !ok {
		return time.Time{}, s.opts().Port
	}
	return started, s.src.ClientAddr().Port
}

// jetStream lists the accounts with JetStream once the server has started.
func (s *Server) jetStream() []JetStreamAccount {
	if _, ok := s.src.Started(); !ok {
		return nil
	}
	return s.src.JetStream()
}

// normalizeBasePath turns "", "/", "mon", "/mon/" into "" or "/mon".
func normalizeBasePath(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return "/" + p
}

// Start listens on the monitoring port of the options, if one is
// configured, and serves in the background.
func (s *Server) Start() error {
	o := s.opts()
	if o.HTTPPort == 0 {
		return nil
	}
	port := o.HTTPPort
	if port == config.MonitorRandomPort {
		port = 0
	}
	host := o.HTTPHost
	if host == "" {
		host = o.Host
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	ln, err := broker.Listen(host, port)
	if err != nil {
		return fmt.Errorf("cannot listen for monitoring on %s: %w", addr, err)
	}
	s.ln = ln
	s.done = make(chan struct{})
	s.http = &http.Server{
		Handler:           s.monitorMux(),
		ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    1 << 20,
		ErrorLog:          logging.StdLog(s.log.With("listener", "http")),
	}
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("monitoring server failed", "error", err)
		}
	}()
	s.startRates()
	return nil
}

// Close closes the monitoring server and its connections.
func (s *Server) Close() {
	if s.http == nil {
		return
	}
	_ = s.http.Close()
	<-s.done
	s.stopRates()
}

// Addr is the monitoring server's address, nil when it is off.
func (s *Server) Addr() *net.TCPAddr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr().(*net.TCPAddr)
}

func (s *Server) monitorMux() *http.ServeMux {
	base := normalizeBasePath(s.opts().HTTPBasePath)
	mux := http.NewServeMux()
	handle := func(path string, h http.HandlerFunc) {
		mux.HandleFunc(base+path, func(w http.ResponseWriter, r *http.Request) {
			s.countRequest(path)
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
	handle(RoutezPath, s.handleRoutez)
	handle(MetricsPath, s.prom.handler().ServeHTTP)
	handle(RatezPath, s.handleRatez)
	// A page that connects back over WebSocket, to check that listener
	// from a browser.
	handle(WebSocketPagePath, s.serveWebSocketPage)
	mux.HandleFunc(base+RootPath, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != base+RootPath && r.URL.Path != base {
			http.NotFound(w, r)
			return
		}
		s.countRequest(RootPath)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(dashboard.Page)
	})
	return mux
}

// serveWebSocketPage serves the WebSocket check page: 503 while the server
// starts (the listeners are being set up), 404 without a listener.
func (s *Server) serveWebSocketPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.src.Started(); !ok {
		http.Error(w, "server starting", http.StatusServiceUnavailable)
		return
	}
	page := s.src.WebSocketPage()
	if page == nil {
		http.Error(w, "no websocket listener is configured", http.StatusNotFound)
		return
	}
	page.ServeHTTP(w, r)
}

func (s *Server) countRequest(path string) {
	s.reqMu.Lock()
	s.reqs[path]++
	s.reqMu.Unlock()
}

func (s *Server) requestCounts() map[string]uint64 {
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	out := make(map[string]uint64, len(s.reqs))
	for k, v := range s.reqs {
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
