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

// roundTripDOM is chromiumDOM for a page expected to complete its round
// trip. Virtual time runs ahead while the page waits on its WebSocket (a
// socket's messages do not hold it back as pending fetches do), so on a
// loaded machine the page's 5 s timer can fire before the server's answer
// arrives; a run that timed out that way is tried again, three at most.
// It returns the last DOM and the number of page loads.
func roundTripDOM(t *testing.T, url string) (dom string, loads int) {
	t.Helper()
	for loads = 1; ; loads++ {
		dom = chromiumDOM(t, url)
		if loads == 3 || !strings.Contains(dom, "failed: timed out") {
			return dom, loads
		}
		t.Logf("load %d: the page's timer fired before the answer came", loads)
	}
}

// The page, served here by a stand-in for the monitoring server, connects
// from a real browser and gets its own message back over WebSocket.
func TestWebSocketPageInChromium(t *testing.T) {
	s := startWSServer(t)
	page := httptest.NewServer(s.WebSocketPage())
	defer page.Close()
	dom, loads := roundTripDOM(t, page.URL)
	if !strings.Contains(dom, `<strong id="status" class="ok">ok</strong>`) ||
		!strings.Contains(dom, "hello from the browser") {
		t.Fatalf("the page did not complete its round trip:\n%s", dom)
	}
	if n := s.ProtocolStats().WebSocket.TotalConnections; n != int64(loads) {
		t.Fatalf("websocket connections %d, want one per page load, %d", n, loads)
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
	dom, _ := roundTripDOM(t, fmt.Sprintf("http://%s%s", s.MonitorAddr(), monitor.WebSocketPagePath))
	if !strings.Contains(dom, `<strong id="status" class="ok">ok</strong>`) ||
		!strings.Contains(dom, "hello from the browser") {
		t.Fatalf("the page did not complete its round trip:\n%s", dom)
	}
}
