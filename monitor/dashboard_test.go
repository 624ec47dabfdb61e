package monitor_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/monitor"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
)

// TestDashboardInHeadlessChromium loads the dashboard in a real browser
// and checks that its script polled the JSON endpoints and rendered the
// server's connections and streams. --virtual-time-budget lets the page's
// timers run (and its fetches complete) before the DOM is dumped.
func TestDashboardInHeadlessChromium(t *testing.T) {
	s := testutil.StartJS(t, testutil.WithMonitor, func(o *config.Options) { o.HTTPBasePath = "/mon" })
	nc := testutil.Connect(t, s, nats.Name("dashboard-watcher"))
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "DASHSTREAM", Subjects: []string{"dash.>"}})
	for i := 0; i < 3; i++ {
		if _, err := js.Publish(testutil.Ctx(t), "dash.x", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "DASHCONSUMER"}); err != nil {
		t.Fatal(err)
	}

	dom := testtools.DumpDOM(t, testutil.MonitorURL(s, "/?interval=200"), 10*time.Second)
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

// TestDashboardChartWithTrafficInChromium runs real traffic (one publisher,
// two subscribers, so out is twice in), waits for the server's rate
// history, and looks at the dashboard in headless Chromium: the chart has
// a clock axis, rate gridlines and a zero line, both lines are drawn from
// the history at the first poll, and the screenshot shows the solid "in"
// and the dashed "out" colour. Durations are rounded for reading.
func TestDashboardChartWithTrafficInChromium(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	subConn := testutil.Connect(t, s, nats.Name("dashboard-subscriber"))
	for range 2 {
		if _, err := subConn.Subscribe("load.x", func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Flush(t, subConn)
	pub := testutil.Connect(t, s, nats.Name("dashboard-publisher"))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		payload := make([]byte, 64)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for range 100 {
				_ = pub.Publish("load.x", payload)
			}
			_ = pub.Flush()
			time.Sleep(10 * time.Millisecond) // pacing the load, not waiting for anything
		}
	}()
	defer func() { close(stop); <-done }()

	// The server samples once a second: poll until five samples saw traffic,
	// so that both lines are long enough to count their pixels.
	deadline := time.Now().Add(20 * time.Second)
	for {
		busy := 0
		for _, smp := range testutil.GetJSON[monitor.Ratez](t, s, monitor.RatezPath).Samples {
			if smp.InMsgs > 0 && smp.OutMsgs > smp.InMsgs {
				busy++
			}
		}
		if busy >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d rate samples with traffic", busy)
		}
		time.Sleep(100 * time.Millisecond) // polling the once-a-second sampler
	}

	url := testutil.MonitorURL(s, "/")
	dom := testtools.DumpDOM(t, url, 1500*time.Millisecond)
	chart := regexp.MustCompile(`(?s)<svg id="chart".*?</svg>`).FindString(dom)
	if chart == "" {
		t.Fatalf("no chart:\n%s", dom)
	}
	if m := regexp.MustCompile(`data-samples="(\d+)"`).FindStringSubmatch(chart); m == nil {
		t.Error("the chart says nothing of its samples")
	} else if n, _ := strconv.Atoi(m[1]); n < 3 {
		t.Errorf("the chart shows %d samples, want the server's history (≥ 3)", n)
	}
	if n := len(regexp.MustCompile(`class="xtick"[^>]*>\d\d:\d\d:\d\d<`).FindAllString(chart, -1)); n < 2 {
		t.Errorf("%d clock labels on the time axis", n)
	}
	if n := len(regexp.MustCompile(`class="ytick"[^>]*>[0-9.]+[kMG]?/s<`).FindAllString(chart, -1)); n < 2 {
		t.Errorf("%d rate labels on the vertical axis", n)
	}
	if !strings.Contains(chart, `class="zero"`) || strings.Count(chart, `class="grid"`) < 4 {
		t.Error("no zero line or gridlines")
	}
	for _, cls := range []string{"in", "out"} {
		m := regexp.MustCompile(`<polyline class="` + cls + `" points="([^"]*)"`).FindStringSubmatch(chart)
		if m == nil || strings.Count(m[1], ",") < 6 {
			t.Errorf("line %q has too few points: %v", cls, m)
		}
	}
	// Round trips read like "115.6 ms", not "115.638926ms".
	if !regexp.MustCompile(`<td>\d+(\.\d+)? (µs|ms|s)</td>`).MatchString(dom) {
		t.Error("no rounded round-trip time in the connections table")
	}
	if regexp.MustCompile(`\d\.\d{3,}(ms|µs|s)<`).MatchString(dom) {
		t.Error("an unrounded duration is shown")
	}

	img := testtools.Screenshot(t, url, "dashboard.png", 1280, 900, 1500*time.Millisecond)
	in, out := testtools.HexColor("#2f6fde"), testtools.HexColor("#e8710a")
	// A few seconds of history on a minute-wide axis: short lines, the
	// dashed one about half as many pixels as the solid one (a third to
	// all of them, as antialiasing and the dash phase vary).
	nIn, nOut := testtools.CountColor(img, img.Bounds(), in, 16), testtools.CountColor(img, img.Bounds(), out, 16)
	t.Logf("in line %d pixels, out line %d", nIn, nOut)
	if nIn < 200 {
		t.Errorf("%d pixels of the solid in line's colour", nIn)
	}
	if nOut*3 < nIn || nOut > nIn {
		t.Errorf("%d pixels of the dashed out line's colour (in line: %d)", nOut, nIn)
	}
}
