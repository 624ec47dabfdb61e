package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
)

// Comparison is the same scenario run against two servers, interleaved
// A B A B ... so both see the same drift of a shared machine. Each figure
// is given for both, with the median of the pairwise ratios A/B.
type Comparison struct {
	Scenario string    `json:"scenario"`
	A        string    `json:"a"`
	B        string    `json:"b"`
	Pairs    int       `json:"pairs"`
	Figures  []Figure  `json:"figures"`
	Runs     []*Report `json:"runs"` // A1, B1, A2, B2, ...
	Errors   []string  `json:"errors,omitempty"`
}

// Figure is one compared number. A and B are medians over the runs;
// Ratio is the median of A/B over the pairs, RatioMin..RatioMax its range.
type Figure struct {
	Name           string    `json:"name"`
	HigherIsBetter bool      `json:"higher_is_better"`
	A              float64   `json:"a"`
	B              float64   `json:"b"`
	Ratio          float64   `json:"ratio"`
	RatioMin       float64   `json:"ratio_min"`
	RatioMax       float64   `json:"ratio_max"`
	AValues        []float64 `json:"a_values"`
	BValues        []float64 `json:"b_values"`
}

// OK reports whether every run succeeded.
func (c *Comparison) OK() bool { return len(c.Errors) == 0 }

// Compare runs cfg against cfg.URL (A) and urlB (B), pairs times each.
func Compare(ctx context.Context, cfg Config, urlB string, pairs int) (*Comparison, error) {
	if pairs < 1 {
		return nil, fmt.Errorf("compare needs at least one pair of runs")
	}
	if _, err := cfg.Normalize(); err != nil {
		return nil, err
	}
	c := &Comparison{Scenario: cfg.Scenario, A: cfg.URL, B: urlB, Pairs: pairs}
	for i := 1; i <= pairs; i++ {
		for _, side := range []struct{ label, url string }{{"A", c.A}, {"B", c.B}} {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			run := cfg
			run.URL = side.url
			rep, err := Run(ctx, run)
			if err != nil {
				return nil, fmt.Errorf("%s run %d (%s): %w", side.label, i, side.url, err)
			}
			rep.Label, rep.Run = side.label, i
			c.Runs = append(c.Runs, rep)
			for _, e := range rep.Errors {
				c.Errors = append(c.Errors, fmt.Sprintf("%s run %d: %s", side.label, i, e))
			}
		}
	}
	c.Figures = figures(c.Runs)
	return c, nil
}

// figureValues are the comparable numbers of one report, in display order.
func figureValues(r *Report) (names []string, higher []bool, vals []float64) {
	add := func(name string, hib bool, v float64) {
		names, higher, vals = append(names, name), append(higher, hib), append(vals, v)
	}
	for _, rs := range r.Roles {
		add(rs.Role+" msgs/s", true, rs.MsgsPerSec)
		add(rs.Role+" MB/s", true, rs.MBPerSec)
	}
	for _, rs := range r.Roles {
		if l := rs.Latency; l != nil {
			p := rs.Role + " " + l.Kind + " "
			add(p+"p50 µs", false, l.P50US)
			add(p+"p90 µs", false, l.P90US)
			add(p+"p99 µs", false, l.P99US)
			add(p+"p99.9 µs", false, l.P999US)
			add(p+"max µs", false, l.MaxUS)
		}
	}
	return names, higher, vals
}

func figures(runs []*Report) []Figure {
	var out []Figure
	index := map[string]int{}
	for i, r := range runs {
		names, higher, vals := figureValues(r)
		for j, name := range names {
			k, ok := index[name]
			if !ok {
				k = len(out)
				index[name] = k
				out = append(out, Figure{Name: name, HigherIsBetter: higher[j]})
			}
			if i%2 == 0 {
				out[k].AValues = append(out[k].AValues, vals[j])
			} else {
				out[k].BValues = append(out[k].BValues, vals[j])
			}
		}
	}
	for i := range out {
		f := &out[i]
		f.A, f.B = median(f.AValues), median(f.BValues)
		var ratios []float64
		for j := 0; j < min(len(f.AValues), len(f.BValues)); j++ {
			if f.BValues[j] > 0 {
				ratios = append(ratios, f.AValues[j]/f.BValues[j])
			}
		}
		f.Ratio = median(ratios)
		if len(ratios) > 0 {
			f.RatioMin, f.RatioMax = slices.Min(ratios), slices.Max(ratios)
		}
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// WriteCompareText writes the comparison table.
func WriteCompareText(w io.Writer, c *Comparison) error {
	fmt.Fprintf(w, "%s: A = %s, B = %s; %d runs each, interleaved A B A B\n", c.Scenario, c.A, c.B, c.Pairs)
	fmt.Fprintln(w, "A, B: medians; A/B: median of the pairwise ratios (> 1: A is higher), min..max across pairs")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "figure\tA\tB\tA/B\tmin..max\tbetter\t")
	for _, f := range c.Figures {
		better := "lower"
		if f.HigherIsBetter {
			better = "higher"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%.2f..%.2f\t%s\t\n", f.Name, number(f.A), number(f.B), f.Ratio, f.RatioMin, f.RatioMax, better)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if c.OK() {
		_, err := fmt.Fprintln(w, "OK")
		return err
	}
	fmt.Fprintln(w, "FAILED:")
	for _, e := range c.Errors {
		fmt.Fprintf(w, "  %s\n", e)
	}
	return nil
}
