package bench

import (
	"context"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"
)

// TestCompareReportInChromium renders a real comparison's page in headless
// Chromium and checks what a reader sees: a chart per role above the
// per-run tables, A and B each drawn as thin run lines plus one bold
// median, in two colours that both show up in the screenshot.
func TestCompareReportInChromium(t *testing.T) {
	a, b := embedded(t), embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Compare(ctx, Config{Scenario: "pubsub", URL: a, ServerName: "server A", Duration: 300 * time.Millisecond, Size: 64}, Target{URL: b}, 2)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "compare.html")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteCompareHTML(f, c); err != nil {
		t.Fatal(err)
	}
	f.Close()

	dom := testtools.DumpDOM(t, "file://"+file, 5*time.Second)
	if !strings.Contains(dom, `data-charts="drawn"`) {
		t.Fatalf("the page's script did not finish:\n%.3000s", dom)
	}
	// publishers and subscribers over time, the subscribers' latency: each
	// with 2 runs per side and a median per side.
	for _, id := range []string{"throughput-0", "throughput-1", "latency-0"} {
		svg := regexp.MustCompile(`(?s)<svg id="` + id + `".*?</svg>`).FindString(dom)
		if svg == "" {
			t.Fatalf("no chart %s", id)
		}
		for _, want := range []string{`data-kind="median" data-label="A"`, `data-kind="median" data-label="B"`} {
			if strings.Count(svg, want) != 1 {
				t.Errorf("%s: %d lines with %s, want 1", id, strings.Count(svg, want), want)
			}
		}
		if n := strings.Count(svg, `data-kind="run"`); n != 4 {
			t.Errorf("%s: %d run lines, want 4", id, n)
		}
		if strings.Count(svg, `class="xtick"`) < 3 || strings.Count(svg, `class="ytick"`) < 3 {
			t.Errorf("%s lacks axis labels", id)
		}
	}
	if !strings.Contains(dom, ">0 s</text>") || !strings.Contains(dom, ">99%</text>") {
		t.Error("time or percentile axis labels missing")
	}
	if strings.Index(dom, `id="throughput-0"`) > strings.Index(dom, `id="runs"`) {
		t.Error("the charts are below the per-run tables")
	}

	img := testtools.Screenshot(t, "file://"+file, "compare-report.png", 1200, 1400, 5*time.Second)
	colA, colB := testtools.HexColor("#1f6fd1"), testtools.HexColor("#e8710a")
	whole := img.Bounds()
	// The bold medians alone are thousands of pixels; the headings and
	// legends in the same colours are a few hundred.
	if n := testtools.CountColor(img, whole, colA, 12); n < 2000 {
		t.Errorf("%d pixels in A's colour, want the A lines drawn (≥ 2000)", n)
	}
	if n := testtools.CountColor(img, whole, colB, 12); n < 2000 {
		t.Errorf("%d pixels in B's colour, want the B lines drawn (≥ 2000)", n)
	}
	// The first chart sits below the figures table; it is not blank.
	lower := image.Rect(0, whole.Dy()/2, whole.Dx(), whole.Dy())
	if n := testtools.Distinct(img, lower); n < 50 {
		t.Errorf("the lower half of the page has %d colours: nothing drawn", n)
	}
}
