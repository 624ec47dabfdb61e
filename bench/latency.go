package bench

import (
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in nanoseconds into HDR histograms with three
// significant digits: constant memory per client, a relative error of at most
// 0.1% at every magnitude, and histograms from many clients merge exactly.
const (
	histLowest  = 1                       // ns
	histHighest = int64(10 * time.Minute) // larger values are clamped
	histDigits  = 3
)

func newHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// recordLatency adds one value, clamping it into the histogram's range (a
// clock step can make an end-to-end latency negative).
func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	v := int64(d)
	if v < histLowest {
		v = histLowest
	} else if v > histHighest {
		v = histHighest
	}
	_ = h.RecordValue(v) // cannot fail: v is in range
}

// LatencyStats summarise one histogram. Times are in microseconds, the unit
// `nats bench` prints.
type LatencyStats struct {
	Kind     string  `json:"kind"` // what one value is, e.g. "request round trip"
	Count    int64   `json:"count"`
	MinUS    float64 `json:"min_us"`
	MeanUS   float64 `json:"mean_us"`
	StdDevUS float64 `json:"stddev_us"`
	P50US    float64 `json:"p50_us"`
	P90US    float64 `json:"p90_us"`
	P99US    float64 `json:"p99_us"`
	P999US   float64 `json:"p99_9_us"`
	MaxUS    float64 `json:"max_us"`
	// Distribution is the percentile spectrum for charts: latency at
	// percentiles spaced evenly in "nines" (50, 75, 90, 95, 99, 99.5, ...).
	Distribution []PercentilePoint `json:"distribution,omitempty"`
}

// PercentilePoint is the latency at or below which Percentile per cent of
// the values fall.
type PercentilePoint struct {
	Percentile float64 `json:"p"`
	US         float64 `json:"us"`
}

func us(ns float64) float64 { return ns / 1e3 }

// summarize returns nil for an empty histogram: no values, no statistics.
func summarize(kind string, h *hdrhistogram.Histogram, withDistribution bool) *LatencyStats {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	s := &LatencyStats{
		Kind:     kind,
		Count:    h.TotalCount(),
		MinUS:    us(float64(h.Min())),
		MeanUS:   us(h.Mean()),
		StdDevUS: us(h.StdDev()),
		P50US:    us(float64(h.ValueAtPercentile(50))),
		P90US:    us(float64(h.ValueAtPercentile(90))),
		P99US:    us(float64(h.ValueAtPercentile(99))),
		P999US:   us(float64(h.ValueAtPercentile(99.9))),
		MaxUS:    us(float64(h.Max())),
	}
	if withDistribution {
		s.Distribution = distribution(h)
	}
	return s
}

// distribution samples the percentile spectrum from 0 to 100 with more
// points in the tail: four steps per halving of the remaining fraction, up
// to the resolution the count supports, then the maximum.
func distribution(h *hdrhistogram.Histogram) []PercentilePoint {
	n := float64(h.TotalCount())
	pts := []PercentilePoint{{0, us(float64(h.Min()))}}
	for i := 1; i <= 4*40; i++ {
		remaining := math.Pow(2, -float64(i)/4) // fraction above this point
		if remaining*n < 1 {
			break
		}
		p := 100 * (1 - remaining)
		pts = append(pts, PercentilePoint{p, us(float64(h.ValueAtPercentile(p)))})
	}
	return append(pts, PercentilePoint{100, us(float64(h.Max()))})
}
