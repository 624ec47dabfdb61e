package bench

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
)

// WriteJSON writes a Report or a Comparison as indented JSON.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// CSVHeader names the columns WriteCSV writes. Each report gives one row
// per role with client "all" (the aggregate) and one row per client; the
// latency columns are empty where nothing was timed.
var CSVHeader = []string{
	"scenario", "label", "run", "role", "client", "msgs", "bytes", "seconds", "msgs_per_sec", "mb_per_sec",
	"latency_kind", "latency_count", "min_us", "mean_us", "stddev_us", "p50_us", "p90_us", "p99_us", "p99_9_us", "max_us",
	"expected", "delivered", "lost", "ok",
}

// WriteCSV writes the reports (one run, or the runs of a comparison,
// numbered per label) as CSV with CSVHeader as the first line.
func WriteCSV(w io.Writer, reports ...*Report) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, r := range reports {
		run := strconv.Itoa(max(r.Run, 1))
		for _, rs := range r.Roles {
			rows := [][]string{csvRow(r, run, rs.Role, "all", rs.Msgs, rs.Bytes, rs.Seconds, rs.MsgsPerSec, rs.MBPerSec, rs.Latency)}
			for _, c := range rs.Clients {
				rows = append(rows, csvRow(r, run, rs.Role, strconv.Itoa(c.ID), c.Msgs, c.Bytes, c.Seconds, c.MsgsPerSec, c.MBPerSec, c.Latency))
			}
			if err := cw.WriteAll(rows); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(r *Report, run, role, client string, msgs, bytes int64, secs, rate, mb float64, l *LatencyStats) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	i := func(v int64) string { return strconv.FormatInt(v, 10) }
	row := []string{r.Scenario, r.Label, run, role, client, i(msgs), i(bytes), f(secs), f(rate), f(mb)}
	if l == nil {
		row = append(row, "", "", "", "", "", "", "", "", "", "")
	} else {
		row = append(row, l.Kind, i(l.Count), f(l.MinUS), f(l.MeanUS), f(l.StdDevUS), f(l.P50US), f(l.P90US), f(l.P99US), f(l.P999US), f(l.MaxUS))
	}
	return append(row, i(r.Expected), i(r.Delivered), i(r.Lost), strconv.FormatBool(r.OK()))
}
