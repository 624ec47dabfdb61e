package server

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/midgemq/midge/internal/testtools"
)

// TestDashboardInHeadlessChromium loads the dashboard in a real browser
// and checks that its script polled the JSON endpoints and rendered the
// server's connections and streams. --virtual-time-budget lets the page's
// timers run (and its fetches complete) before the DOM is dumped.
func TestDashboardInHeadlessChromium(t *testing.T) {
	s := startJS(t, withMonitor, func(o *Options) { o.HTTPBasePath = "/mon" })
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

	dom := testtools.DumpDOM(t, monURL(s, "/?interval=200"), 10*time.Second)
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
