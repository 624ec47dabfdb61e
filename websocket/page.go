package websocket

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

//go:embed page.html
var wsPageHTML string

var wsPageTemplate = template.Must(template.New("wspage").Parse(wsPageHTML))

// PageHandler serves the check page. It points the page at the listener on
// the host the browser used to reach the page (so it works behind the name
// the person typed); 503 until the listener is up.
func (l *Listener) PageHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := l.Addr()
		if addr == nil {
			http.Error(w, "server starting", http.StatusServiceUnavailable)
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		url := l.Scheme() + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = wsPageTemplate.Execute(w, struct{ URL string }{url})
	})
}
