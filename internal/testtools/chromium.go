package testtools

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ScreenshotDirEnv names an optional directory where Screenshot keeps a copy
// of every screenshot it takes, to look at by eye or keep as a CI artifact.
const ScreenshotDirEnv = "MIDGE_SCREENSHOT_DIR"

// Chromium returns the path of a headless-capable Chromium, or ends the test
// through Missing.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Missing(t, "Chromium is not installed (apt-get install chromium)")
	return ""
}

// headlessFlags start Chromium headless and quiet: no sandbox (tests may run
// as root), no GPU, and none of its own network traffic, which a closed
// network refuses many times over. Every run gets a fresh profile.
var headlessFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--hide-scrollbars", "--force-device-scale-factor=1",
}

// RunChromium runs headless Chromium with args (after the standard flags and a
// fresh profile) and returns its standard output.
func RunChromium(t testing.TB, args ...string) []byte {
	t.Helper()
	bin := Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append(append(append([]string{}, headlessFlags...), "--user-data-dir="+t.TempDir()), args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, tail(stderr.String(), 2000))
	}
	return out
}

// DumpDOM loads url and returns the DOM after the page's scripts ran.
// budget is the virtual time the page's timers and fetches get first.
func DumpDOM(t testing.TB, url string, budget time.Duration, extra ...string) string {
	t.Helper()
	args := append([]string{fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds())}, extra...)
	return string(RunChromium(t, append(args, "--dump-dom", url)...))
}

// Screenshot loads url in a window of width×height pixels, lets its scripts
// run for budget of virtual time, and returns the decoded screenshot. name
// names the copy kept under MIDGE_SCREENSHOT_DIR when that is set.
func Screenshot(t testing.TB, url, name string, width, height int, budget time.Duration) image.Image {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	// Every compositor stage runs before the capture, or parts of the page
	// may still be unpainted tiles.
	RunChromium(t, "--run-all-compositor-stages-before-draw", fmt.Sprintf("--window-size=%d,%d", width, height),
		fmt.Sprintf("--virtual-time-budget=%d", budget.Milliseconds()),
		"--screenshot="+file, url)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("screenshot of %s: %v", url, err)
	}
	if dir := os.Getenv(ScreenshotDirEnv); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err == nil {
			_ = os.WriteFile(filepath.Join(dir, name), raw, 0o644)
		}
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot of %s is not a PNG: %v", url, err)
	}
	return img
}

// CountColor counts the pixels of img inside r whose colour is within tol
// (per 8-bit channel) of want.
func CountColor(img image.Image, r image.Rectangle, want color.RGBA, tol int) int {
	n := 0
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if near(img.At(x, y), want, tol) {
				n++
			}
		}
	}
	return n
}

// Distinct counts the different colours inside r, a rough measure of how
// much is drawn there (a blank area has one or two).
func Distinct(img image.Image, r image.Rectangle) int {
	seen := map[color.RGBA]bool{}
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			seen[rgba(img.At(x, y))] = true
		}
	}
	return len(seen)
}

// HexColor parses "#rrggbb".
func HexColor(s string) color.RGBA {
	var c color.RGBA
	c.A = 255
	_, _ = fmt.Sscanf(strings.TrimPrefix(s, "#"), "%02x%02x%02x", &c.R, &c.G, &c.B)
	return c
}

func rgba(c color.Color) color.RGBA {
	r, g, b, a := c.RGBA()
	return color.RGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(a >> 8)}
}

func near(c color.Color, want color.RGBA, tol int) bool {
	got := rgba(c)
	d := func(a, b uint8) int {
		if a > b {
			return int(a - b)
		}
		return int(b - a)
	}
	return d(got.R, want.R) <= tol && d(got.G, want.G) <= tol && d(got.B, want.B) <= tol
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
