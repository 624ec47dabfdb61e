package testtools

import (
	"fmt"
	"image"
	"image/color"
	"testing"
)

// recorder is a testing.TB that notes how a test would have ended.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skip(args ...any)                  { r.skip = fmt.Sprint(args...) }

func TestMissingSkipsOrFails(t *testing.T) {
	t.Setenv(RequireEnv, "")
	r := &recorder{TB: t}
	Missing(r, "frob is not installed")
	if r.skip != "frob is not installed" || r.fatal != "" {
		t.Fatalf("without %s: skip %q, fatal %q", RequireEnv, r.skip, r.fatal)
	}
	t.Setenv(RequireEnv, "1")
	r = &recorder{TB: t}
	Missing(r, "frob is not installed")
	if r.skip != "" || r.fatal == "" {
		t.Fatalf("with %s=1: skip %q, fatal %q", RequireEnv, r.skip, r.fatal)
	}
}

func TestCommandFindsOnlyWhatExists(t *testing.T) {
	t.Setenv(RequireEnv, "1")
	r := &recorder{TB: t}
	if p := Command(r, "sh", "it is everywhere"); p == "" || r.fatal != "" {
		t.Fatalf("sh: %q, %q", p, r.fatal)
	}
	if p := Command(r, "no-such-tool-for-midge", "apt-get install nothing"); p != "" || r.fatal == "" {
		t.Fatalf("a missing tool was found at %q", p)
	}
}

func TestColorCounting(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 10, 10))
	red := HexColor("#ff0000")
	for x := 2; x < 5; x++ {
		img.Set(x, 3, color.RGBA{R: 250, G: 3, B: 0, A: 255})
	}
	if n := CountColor(img, img.Bounds(), red, 8); n != 3 {
		t.Errorf("%d near-red pixels, want 3", n)
	}
	if n := CountColor(img, image.Rect(0, 0, 3, 10), red, 8); n != 1 {
		t.Errorf("%d near-red pixels in the left strip, want 1", n)
	}
	if n := Distinct(img, img.Bounds()); n != 2 {
		t.Errorf("%d colours, want 2", n)
	}
}
