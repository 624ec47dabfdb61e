package monitor

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
)

// Profiler serves Go's pprof profiles (/debug/pprof/) on a port of its own,
// as the reference server's prof_port does, for performance work.
type Profiler struct {
	srv *http.Server
	ln  net.Listener
}

// StartProfiler listens on the options' ProfPort (nil, nil when it is 0), on
// the monitoring host.
func StartProfiler(b *broker.Broker) (*Profiler, error) {
	o := b.Options()
	if o.ProfPort == 0 {
		return nil, nil
	}
	host := o.HTTPHost
	if host == "" {
		host = o.Host
	}
	port := o.ProfPort
	if port == config.MonitorRandomPort {
		port = 0
	}
	ln, err := broker.Listen(host, port)
	if err != nil {
		return nil, errors.New("cannot listen for profiling on " + net.JoinHostPort(host, strconv.Itoa(port)) + ": " + err.Error())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	p := &Profiler{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	b.Logger().Info("serving profiles", "url", "http://"+ln.Addr().String()+"/debug/pprof/")
	return p, nil
}

// Addr is the profiling listener's address.
func (p *Profiler) Addr() *net.TCPAddr { return p.ln.Addr().(*net.TCPAddr) }

// Close stops serving profiles.
func (p *Profiler) Close() {
	if p != nil {
		_ = p.srv.Close()
	}
}
