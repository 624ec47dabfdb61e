package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestCompareInterleavesAndRatios(t *testing.T) {
	a, b := embedded(t), embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := Compare(ctx, Config{Scenario: "reqrep", URL: a, Msgs: 300, Size: 16}, Target{URL: b}, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OK() || len(c.Runs) != 6 {
		t.Fatalf("ok=%v, %d runs, errors %q", c.OK(), len(c.Runs), c.Errors)
	}
	for i, r := range c.Runs {
		wantLabel, wantURL := "A", a
		if i%2 == 1 {
			wantLabel, wantURL = "B", b
		}
		if r.Label != wantLabel || r.Server != wantURL || r.Run != i/2+1 {
			t.Fatalf("run %d is %s%d on %s, want %s%d on %s", i, r.Label, r.Run, r.Server, wantLabel, i/2+1, wantURL)
		}
		checkConsistent(t, r)
	}
	f := figureByName(t, c, "requesters msgs/s")
	var ratios []float64
	for i := 0; i < 3; i++ {
		av, bv := c.Runs[2*i].Role("requesters").MsgsPerSec, c.Runs[2*i+1].Role("requesters").MsgsPerSec
		if f.AValues[i] != av || f.BValues[i] != bv {
			t.Fatalf("pair %d: figure has %v/%v, runs have %v/%v", i, f.AValues[i], f.BValues[i], av, bv)
		}
		ratios = append(ratios, av/bv)
	}
	if !near(f.Ratio, median(ratios)) || f.RatioMin > f.Ratio || f.Ratio > f.RatioMax || !near(f.A, median(f.AValues)) {
		t.Fatalf("figure %+v, pairwise ratios %v", f, ratios)
	}
	if figureByName(t, c, "requesters request round trip p99 µs").HigherIsBetter {
		t.Error("a latency is better lower")
	}

	var out bytes.Buffer
	if err := WriteCompareText(&out, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "requesters msgs/s") || !strings.Contains(out.String(), "A = "+a+", B = "+b) {
		t.Errorf("comparison text:\n%s", out.String())
	}
	out.Reset()
	if err := WriteCSV(&out, c.Runs...); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\nreqrep,B,3,requesters,all,"); n != 1 {
		t.Errorf("CSV has %d aggregate rows for B run 3:\n%s", n, out.String())
	}
	out.Reset()
	if err := WriteCompareHTML(&out, c); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `<table id="figures">`) || strings.Count(out.String(), " run 3</span>: ") != 2 {
		t.Error("comparison page lacks the figures table or a run")
	}
}

func figureByName(t *testing.T, c *Comparison, name string) Figure {
	t.Helper()
	for _, f := range c.Figures {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no figure %q in %+v", name, c.Figures)
	return Figure{}
}
