package server

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// chromium finds a headless-capable Chromium, skipping the test without one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium installed (apt-get install chromium): dashboard not tested in a browser")
	return ""
}

// TestDashboardInHeadlessChromium loads the dashboard in a real browser
// and checks that its script polled the JSON endpoints and rendered the
// server's connections and streams. --virtual-time-budget lets the page's
// timers run (and its fetches complete) before the DOM is dumped.
func TestDashboardInHeadlessChromium(t *testing.T) {
	browser := chromium(t)
	s := startJS(t, withMonitor, func(o *config.Options) { o.HTTPBasePath = "/mon" })
	nc := connect(t, s, nats.Name("dashboard-watcher"))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st := createStream(t, js, jetstream.StreamConfig{Name: "DASHSTREAM", Subjects: []string{"dash.>"}})
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(ctx(t), "dash.x", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateOrUpdateConsumer(ctx(t), jetstream.ConsumerConfig{Durable: "DASHCONSUMER"}); err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(runCtx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--user-data-dir="+t.TempDir(),
		"--virtual-time-budget=10000", "--dump-dom", monURL(s, "/?interval=200"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	if !strings.Contains(dom, `data-ready="1"`) {
		t.Fatalf("the page never finished two polls:\n%s", dom)
	}
	for _, want := range []string{"dashboard-watcher", "DASHSTREAM", "DASHCONSUMER", ">healthy<", "up "} {
		if !strings.Contains(dom, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// Rates are shown once two polls are in; the stream row has its figures.
	if !regexp.MustCompile(`id="rate-in-msgs">\d`).MatchString(dom) {
		t.Errorf("no message rate shown")
	}
	if !regexp.MustCompile(`DASHSTREAM</td><td>3</td>`).MatchString(dom) {
		t.Errorf("stream row does not show its 3 messages")
	}
	if strings.Contains(dom, "HTTP 4") || strings.Contains(dom, "HTTP 5") {
		t.Errorf("an endpoint failed: %s", dom)
	}
}
