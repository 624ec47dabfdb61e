package websocket_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/monitor"
)

// chromiumDOM loads url in headless Chromium and returns the DOM after the
// page's scripts ran. The virtual time budget lets the page's WebSocket
// exchange finish before the DOM is dumped; the page gives up by itself
// after 5 s.
func chromiumDOM(t *testing.T, url string) string {
	t.Helper()
	return testtools.DumpDOM(t, url, 8*time.Second)
}

// The page, served here by a stand-in for the monitoring server, connects
// from a real browser and gets its own message back over WebSocket.
func TestWebSocketPageInChromium(t *testing.T) {
	s := startWSServer(t)
	page := httptest.NewServer(s.WebSocketPage())
	defer page.Close()
	dom := chromiumDOM(t, page.URL)
	if !strings.Contains(dom, `<strong id="status" class="ok">ok</strong>`) ||
		!strings.Contains(dom, "hello from the browser") {
		t.Fatalf("the page did not complete its round trip:\n%s", dom)
	}
	if n := s.ProtocolStats().WebSocket.TotalConnections; n != 1 {
		t.Fatalf("websocket connections %d, want 1", n)
	}
}

// Same origin in a browser: a page from another origin is refused.
func TestWebSocketPageCrossOriginRefused(t *testing.T) {
	s := startWSServer(t, func(o *config.Options) { o.WebSocket.SameOrigin = true })
	page := httptest.NewServer(s.WebSocketPage())
	defer page.Close()
	dom := chromiumDOM(t, page.URL)
	if !strings.Contains(dom, "failed") || s.ProtocolStats().WebSocketOriginRefused != 1 {
		t.Fatalf("cross-origin page was not refused:\n%s", dom)
	}
}

// TestWebSocketPageFromMonitoringServer is the same check through the
// monitoring server, which lives on another branch.
func TestWebSocketPageFromMonitoringServer(t *testing.T) {
	s := startWSServer(t, func(o *config.Options) { o.HTTPHost, o.HTTPPort = "127.0.0.1", config.MonitorRandomPort })
	dom := chromiumDOM(t, fmt.Sprintf("http://%s%s", s.MonitorAddr(), monitor.WebSocketPagePath))
	if !strings.Contains(dom, `<strong id="status" class="ok">ok</strong>`) ||
		!strings.Contains(dom, "hello from the browser") {
		t.Fatalf("the page did not complete its round trip:\n%s", dom)
	}
}
