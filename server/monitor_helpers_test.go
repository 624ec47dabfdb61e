package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
)

// withMonitor turns on the monitoring server on a free port.
func withMonitor(o *config.Options) { o.HTTPPort = config.MonitorRandomPort }

var httpClient = &http.Client{Timeout: 10 * time.Second}

// monURL is the address of a monitoring path (base path included).
func monURL(s *Server, path string) string {
	base := strings.Trim(s.opts().HTTPBasePath, "/")
	if base != "" {
		base = "/" + base
	}
	return "http://" + s.MonitorAddr().String() + base + path
}

// httpGet fetches a monitoring path and returns the status and body.
func httpGet(t testing.TB, s *Server, path string) (int, string) {
	t.Helper()
	resp, err := httpClient.Get(monURL(s, path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", path, err)
	}
	return resp.StatusCode, string(body)
}

// getJSON fetches a monitoring path that must answer 200 and decodes it.
func getJSON[T any](t testing.TB, s *Server, path string) T {
	t.Helper()
	code, body := httpGet(t, s, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", path, code, body)
	}
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return v
}

// wantBadRequest checks that a path is refused with 400 and a reason.
func wantBadRequest(t testing.TB, s *Server, path, reason string) {
	t.Helper()
	code, body := httpGet(t, s, path)
	if code != http.StatusBadRequest || !strings.Contains(body, reason) {
		t.Fatalf("GET %s: status %d, body %q; want 400 mentioning %q", path, code, body, reason)
	}
}

// flush waits until the server processed everything nc sent.
func monFlush(t testing.TB, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(msgWait); err != nil {
		t.Fatal(err)
	}
}

// publishN publishes payloads of growing size and returns their total.
func monPublish(t testing.TB, nc *nats.Conn, subject string, n int) int64 {
	t.Helper()
	var total int64
	for i := 0; i < n; i++ {
		payload := strings.Repeat("x", i+1)
		if err := nc.Publish(subject, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		total += int64(len(payload))
	}
	monFlush(t, nc)
	return total
}

// receiveN takes n messages from a synchronous subscription.
func monReceive(t *testing.T, sub *nats.Subscription, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		nextMsg(t, sub)
	}
}
