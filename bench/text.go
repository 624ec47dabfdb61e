package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the human summary of a run: the settings, one line per
// role (and per client when a role has several), the latency percentiles,
// the delivery accounting and any errors.
func WriteText(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "%s: %s\n", r.Scenario, r.Summary)
	fmt.Fprintln(w, header(r))
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "role\tclients\tmsgs\tseconds\tmsgs/s\tMB/s\tclient msgs/s min\tavg\tmax\tstddev\t")
	for _, rs := range r.Roles {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.3f\t%s\t%.2f\t%s\t%s\t%s\t%s\t\n", rs.Role, len(rs.Clients),
			commas(float64(rs.Msgs)), rs.Seconds, commas(rs.MsgsPerSec), rs.MBPerSec,
			commas(rs.RateMin), commas(rs.RateAvg), commas(rs.RateMax), commas(rs.RateStdDev))
		if len(rs.Clients) < 2 {
			continue
		}
		for _, c := range rs.Clients {
			fmt.Fprintf(tw, "  #%d\t\t%s\t%.3f\t%s\t%.2f\t\t\t\t\t\n", c.ID,
				commas(float64(c.Msgs)), c.Seconds, commas(c.MsgsPerSec), c.MBPerSec)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	if hasLatency(r) {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "latency (µs)\tcount\tmin\tmean\tstddev\tp50\tp90\tp99\tp99.9\tmax\t")
		for _, rs := range r.Roles {
			if l := rs.Latency; l != nil {
				fmt.Fprintf(tw, "%s: %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rs.Role, l.Kind, commas(float64(l.Count)),
					micros(l.MinUS), micros(l.MeanUS), micros(l.StdDevUS), micros(l.P50US), micros(l.P90US),
					micros(l.P99US), micros(l.P999US), micros(l.MaxUS))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}

	fmt.Fprintln(w)
	if r.Expected > 0 || r.Delivered > 0 {
		fmt.Fprintf(w, "delivered %s of %s expected, lost %s\n",
			commas(float64(r.Delivered)), commas(float64(r.Expected)), commas(float64(r.Lost)))
	}
	fmt.Fprintln(w, connectionLine(r))
	for _, ce := range r.Connections {
		fmt.Fprintf(w, "  %s: %s\n", ce.Client, describeEvents(ce))
	}
	writeWarnings(w, r.Warnings)
	if r.OK() {
		_, err := fmt.Fprintln(w, "OK")
		return err
	}
	fmt.Fprintf(w, "FAILED: %s\n", r.FailureSummary())
	for _, e := range r.Errors {
		fmt.Fprintf(w, "  %s\n", e)
	}
	return nil
}

// header is the line of settings under the title: the server, the load and
// what bounds it. A duration-bounded run claims no message count.
func header(r *Report) string {
	p := r.Params
	var b strings.Builder
	fmt.Fprintf(&b, "server %s", r.Server)
	if r.ServerVersion != "" {
		fmt.Fprintf(&b, " (version %s)", r.ServerVersion)
	}
	if r.URL != "" && r.URL != r.Server {
		fmt.Fprintf(&b, " at %s", r.URL)
	}
	if p.Duration > 0 {
		fmt.Fprintf(&b, "; %d B msgs for %gs", p.Size, p.Duration)
	} else {
		fmt.Fprintf(&b, "; %s msgs of %d B", commas(float64(p.Msgs)), p.Size)
	}
	fmt.Fprintf(&b, "; %d pubs, %d subs", p.Pubs, p.Subs)
	if p.Prefilled > 0 {
		fmt.Fprintf(&b, "; %s msgs stored first", commas(float64(p.Prefilled)))
	}
	if p.Stream != "" {
		fmt.Fprintf(&b, "; %s %s storage", p.Stream, p.Storage)
	}
	if p.Window > 0 {
		fmt.Fprintf(&b, "; window %d", p.Window)
	}
	return b.String()
}

// connectionLine sums up the connection events: slow consumers (and what the
// server counted), disconnects, reconnects.
func connectionLine(r *Report) string {
	line := fmt.Sprintf("slow consumers %d", r.SlowConsumers)
	if r.ServerSlowConsumers >= 0 {
		line += fmt.Sprintf(" (the server counted %d)", r.ServerSlowConsumers)
	}
	return line + fmt.Sprintf(", disconnects %d, reconnects %d", r.Disconnects, r.Reconnects)
}

// describeEvents is one connection's events in words.
func describeEvents(ce ConnectionEvents) string {
	var parts []string
	switch {
	case ce.Disconnects == 1:
		parts = append(parts, ce.Cause)
	case ce.Disconnects > 1:
		parts = append(parts, fmt.Sprintf("%d disconnects, the last %s", ce.Disconnects, ce.Cause))
	}
	if ce.Reconnects > 0 {
		parts = append(parts, fmt.Sprintf("%d reconnect%s", ce.Reconnects, plural(ce.Reconnects)))
	}
	if ce.SlowConsumer > 0 && !strings.Contains(ce.Cause, "slow consumer") {
		parts = append(parts, fmt.Sprintf("slow consumer in the client %d time%s (nats.go dropped messages)",
			ce.SlowConsumer, plural(ce.SlowConsumer)))
	}
	return strings.Join(parts, "; ")
}

func hasLatency(r *Report) bool {
	for _, rs := range r.Roles {
		if rs.Latency != nil {
			return true
		}
	}
	return false
}

// commas formats a number rounded to an integer with thousands separators.
func commas(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	s := strconv.FormatInt(int64(math.Round(v)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// micros formats microseconds with a precision that suits their size.
func micros(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return commas(v)
	}
}

// number formats a figure: integers with separators, small values with
// decimals.
func number(v float64) string {
	if math.Abs(v) >= 1000 {
		return commas(v)
	}
	return micros(v)
}
