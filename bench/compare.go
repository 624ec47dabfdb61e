package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"
)

// Comparison is the same scenario run against two servers, interleaved
// A B A B ... so both see the same drift of a shared machine. Each figure
// is given for both, with the median of the pairwise ratios A/B.
type Comparison struct {
	Scenario string `json:"scenario"`
	A        string `json:"a"` // the servers as reports name them
	B        string `json:"b"`
	AURL     string `json:"a_url"`
	BURL     string `json:"b_url"`
	Pairs    int    `json:"pairs"`
	// Duration is the length of each run's publishing in seconds, 0 when
	// runs are bounded by a message count.
	Duration float64   `json:"duration_seconds,omitempty"`
	Figures  []Figure  `json:"figures"`
	Runs     []*Report `json:"runs"` // A1, B1, A2, B2, ...
	Errors   []string  `json:"errors,omitempty"`
	// Warnings qualify the figures (runs too short to compare, say); each
	// appears once however many runs had it.
	Warnings []string `json:"warnings,omitempty"`
}

// Target is the second server of a comparison.
type Target struct {
	URL  string
	Name string // how reports name it; "" means the URL
	// SlowConsumers reads its slow-consumer count (optional, as
	// Config.ServerSlowConsumers).
	SlowConsumers SlowConsumerCounter
}

// DefaultCompareDuration is how long each run of a comparison publishes
// when neither a duration nor a message count is asked for: long enough
// for the ratios between runs to settle (see MinMeaningfulSeconds), short
// enough for A B A B with three runs each to take well under a minute.
const DefaultCompareDuration = 3 * time.Second

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

// Compare runs cfg against its server (A) and b (B), pairs times each.
func Compare(ctx context.Context, cfg Config, b Target, pairs int) (*Comparison, error) {
	if pairs < 1 {
		return nil, fmt.Errorf("compare needs at least one pair of runs")
	}
	if _, err := cfg.Normalize(); err != nil {
		return nil, err
	}
	cfgB := cfg
	cfgB.URL, cfgB.ServerName, cfgB.ServerSlowConsumers = b.URL, b.Name, b.SlowConsumers
	c := &Comparison{Scenario: cfg.Scenario, A: cfg.serverLabel(), B: cfgB.serverLabel(),
		AURL: cfg.URL, BURL: b.URL, Pairs: pairs, Duration: cfg.Duration.Seconds()}
	seen := map[string]bool{}
	for i := 1; i <= pairs; i++ {
		for _, side := range []struct {
			label string
			cfg   Config
		}{{"A", cfg}, {"B", cfgB}} {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			rep, err := Run(ctx, side.cfg)
			if err != nil {
				return nil, fmt.Errorf("%s run %d (%s): %w", side.label, i, side.cfg.URL, err)
			}
			rep.Label, rep.Run = side.label, i
			c.Runs = append(c.Runs, rep)
			for _, e := range rep.Errors {
				c.Errors = append(c.Errors, fmt.Sprintf("%s run %d: %s", side.label, i, e))
			}
			for _, w := range rep.Warnings {
				if !seen[w] {
					seen[w] = true
					c.Warnings = append(c.Warnings, w)
				}
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
	fmt.Fprintf(w, "%s: A = %s, B = %s; %d runs each", c.Scenario, c.A, c.B, c.Pairs)
	if c.Duration > 0 {
		fmt.Fprintf(w, " of %gs", c.Duration)
	}
	fmt.Fprintln(w, ", interleaved A B A B")
	fmt.Fprintln(w, "A, B: medians; A/B: median of the pairwise ratios (> 1: A is higher), min..max across pairs")
	writeWarnings(w, c.Warnings)
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
	writeWarnings(w, c.Warnings)
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

// writeWarnings prints warnings so they cannot be missed.
func writeWarnings(w io.Writer, warnings []string) {
	for _, warning := range warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warning)
	}
}
