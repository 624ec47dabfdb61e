package server

import (
	_ "embed"
	"html/template"
	"net"
	"net/http"
	"strconv"
)

// The WebSocket check page: a self-contained HTML page whose script speaks
// the NATS protocol to this server's WebSocket listener, for a person (or
// headless Chromium in the tests) to see that browsers get through. The
// monitoring server serves it; the page needs nothing from the network.

//go:embed wspage.html
var wsPageHTML string

var wsPageTemplate = template.Must(template.New("wspage").Parse(wsPageHTML))

// WebSocketPageHandler serves the check page. It points the page at the
// WebSocket listener on the host the browser used to reach the page (so it
// works behind the name the person typed); 404 without a listener.
func (s *Server) WebSocketPageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The monitoring server answers while Start still sets up the
		// listeners; they are readable once it has finished.
		if !s.mon.started.Load() {
			http.Error(w, "server starting", http.StatusServiceUnavailable)
			return
		}
		addr := s.WebSocketAddr()
		if addr == nil {
			http.Error(w, "no websocket listener is configured", http.StatusNotFound)
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		scheme := "ws"
		if s.ws.tlsConfig != nil {
			scheme = "wss"
		}
		url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = wsPageTemplate.Execute(w, struct{ URL string }{url})
	})
}
