package websocket_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/monitor"
)

// chromiumDOM loads url in headless Chromium and returns the DOM after the
// page's scripts ran (skipping the test without Chromium). Exported to the
// monitoring tests through this package's test files.
func chromiumDOM(t *testing.T, url string) string {
	t.Helper()
	var bin string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Skip("Chromium not installed: skipping the browser test of the WebSocket page")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The virtual time budget lets the page's WebSocket exchange finish
	// before the DOM is dumped; the page gives up by itself after 5 s.
	out, err := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--no-first-run", "--user-data-dir="+t.TempDir(), "--virtual-time-budget=8000",
		"--dump-dom", url).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	return string(out)
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
