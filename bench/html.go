package bench

import (
	_ "embed"
	"errors"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var htmlSource string

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"num":        func(v float64) string { return commas(v) },
	"int":        func(v int64) string { return commas(float64(v)) },
	"count":      func(v int) string { return commas(float64(v)) },
	"us":         micros,
	"hasLatency": hasLatency,
	"fig":        number,
}).Parse(htmlSource))

// WriteHTML writes one self-contained page (inline CSS, SVG drawn by inline
// script, no external resources) with a throughput-over-time chart and a
// latency-by-percentile chart above each report's tables. Several reports
// are drawn in the same charts.
func WriteHTML(w io.Writer, reports ...*Report) error {
	return writeHTML(w, nil, reports)
}

// WriteCompareHTML writes the page for a comparison: the table of figures,
// then a throughput and a latency chart per role with A and B in two
// colours (each run a thin line, the median of the runs bold), then every
// run's tables.
func WriteCompareHTML(w io.Writer, c *Comparison) error {
	return writeHTML(w, c, c.Runs)
}

func writeHTML(w io.Writer, c *Comparison, reports []*Report) error {
	if len(reports) == 0 {
		return errors.New("no report to write")
	}
	var warnings []string
	if c != nil {
		warnings = c.Warnings
	} else {
		seen := map[string]bool{}
		for _, r := range reports {
			for _, w := range r.Warnings {
				if !seen[w] {
					seen[w] = true
					warnings = append(warnings, w)
				}
			}
		}
	}
	return htmlPage.Execute(w, struct {
		Scenario, Summary string
		Compare           *Comparison
		Warnings          []string
		Reports           []*Report
		Data              []*Report // embedded as JSON for the charts
	}{reports[0].Scenario, reports[0].Summary, c, warnings, reports, reports})
}
