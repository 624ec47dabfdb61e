package testutil

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// WithMonitor turns on the monitoring server on a free port.
func WithMonitor(o *config.Options) { o.HTTPPort = config.MonitorRandomPort }

var HTTPClient = &http.Client{Timeout: 10 * time.Second}

// monURL is the address of a monitoring path (base path included).
func MonitorURL(s *server.Server, path string) string {
	base := strings.Trim(s.Options().HTTPBasePath, "/")
	if base != "" {
		base = "/" + base
	}
	return "http://" + s.MonitorAddr().String() + base + path
}

// httpGet fetches a monitoring path and returns the status and body.
func HTTPGet(t testing.TB, s *server.Server, path string) (int, string) {
	t.Helper()
	resp, err := HTTPClient.Get(MonitorURL(s, path))
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
func GetJSON[T any](t testing.TB, s *server.Server, path string) T {
	t.Helper()
	code, body := HTTPGet(t, s, path)
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
func WantBadRequest(t testing.TB, s *server.Server, path, reason string) {
	t.Helper()
	code, body := HTTPGet(t, s, path)
	if code != http.StatusBadRequest || !strings.Contains(body, reason) {
		t.Fatalf("GET %s: status %d, body %q; want 400 mentioning %q", path, code, body, reason)
	}
}

// flush waits until the server processed everything nc sent.
func Flush(t testing.TB, nc *nats.Conn) {
	t.Helper()
	if err := nc.FlushTimeout(MsgWait); err != nil {
		t.Fatal(err)
	}
}

// publishN publishes payloads of growing size and returns their total.
func PublishN(t testing.TB, nc *nats.Conn, subject string, n int) int64 {
	t.Helper()
	var total int64
	for i := 0; i < n; i++ {
		payload := strings.Repeat("x", i+1)
		if err := nc.Publish(subject, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		total += int64(len(payload))
	}
	Flush(t, nc)
	return total
}

// receiveN takes n messages from a synchronous subscription.
func ReceiveN(t *testing.T, sub *nats.Subscription, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		NextMsg(t, sub)
	}
}
