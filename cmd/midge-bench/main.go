// Command midge-bench load-tests a NATS-protocol server and reports
// throughput, latency and lost messages; see `midge-bench --help` and the
// Benchmarking section of the README. The work is done by package bench.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/midgemq/midge/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the exit: 0 when the run succeeded, 1 when it failed
// or lost messages, 2 on bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stdout)
	switch {
	case errors.Is(err, errHelp):
		return 0 // the flag set printed the help
	case err != nil:
		fmt.Fprintf(stderr, "midge-bench: %v (see --help)\n", err)
		return 2
	}
	if o.list {
		for _, s := range bench.Scenarios() {
			fmt.Fprintf(stdout, "%-11s %s\n", s.Name, s.Summary)
		}
		return 0
	}
	if o.embedded {
		srv, err := bench.StartEmbedded()
		if err != nil {
			fmt.Fprintf(stderr, "midge-bench: %v\n", err)
			return 1
		}
		defer srv.Stop()
		srv.Configure(&o.cfg)
	}
	if o.monitor != "" {
		o.cfg.ServerSlowConsumers = bench.VarzSlowConsumers(o.monitor)
	}
	if o.defaulted != "" {
		fmt.Fprintf(stderr, "midge-bench: %s\n", o.defaulted)
	}
	o.cfg.Progress = newProgress(stderr, !o.noProgress)
	if o.cfg.Scenario == "sub" {
		o.cfg.Ready = func() {
			fmt.Fprintf(stderr, "subscribed to %q on %s; waiting for messages\n", o.cfg.Subject, o.cfg.URL)
		}
	}
	if o.compare != "" {
		return runCompare(ctx, o, stdout, stderr)
	}
	rep, err := bench.Run(ctx, o.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "midge-bench: %v\n", err)
		return 1
	}
	if err := output(o, stdout, rep, nil); err != nil {
		fmt.Fprintf(stderr, "midge-bench: %v\n", err)
		return 1
	}
	warn(stderr, rep.Warnings)
	if !rep.OK() {
		fmt.Fprintf(stderr, "midge-bench: %s failed: %s\n", rep.Scenario, rep.FailureSummary())
		if hint := causeHint(rep); hint != "" {
			fmt.Fprintf(stderr, "midge-bench: %s\n", hint)
		}
		return 1
	}
	return 0
}

// warn repeats the report's warnings on stderr, where they are seen even
// when stdout is JSON or CSV going to a file.
func warn(stderr io.Writer, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(stderr, "midge-bench: WARNING: %s\n", w)
	}
}

// causeHint says how to learn why the server closed a connection, when the
// run could not ask it.
func causeHint(rep *bench.Report) string {
	if rep.ServerSlowConsumers >= 0 || rep.Disconnects == 0 {
		return ""
	}
	return "the server closed connections without saying why; a server closes a client that reads too slowly " +
		"as a slow consumer: pass --monitor with its monitoring URL to have its count checked, or see its log"
}

func runCompare(ctx context.Context, o *options, stdout, stderr io.Writer) int {
	b := bench.Target{URL: o.compare}
	if o.monitorB != "" {
		b.SlowConsumers = bench.VarzSlowConsumers(o.monitorB)
	}
	c, err := bench.Compare(ctx, o.cfg, b, o.pairs)
	if err != nil {
		fmt.Fprintf(stderr, "midge-bench: %v\n", err)
		return 1
	}
	if err := output(o, stdout, nil, c); err != nil {
		fmt.Fprintf(stderr, "midge-bench: %v\n", err)
		return 1
	}
	warn(stderr, c.Warnings)
	if !c.OK() {
		for _, r := range c.Runs {
			if !r.OK() {
				fmt.Fprintf(stderr, "midge-bench: %s run %d (%s) failed: %s\n", r.Label, r.Run, r.Server, r.FailureSummary())
			}
		}
		return 1
	}
	return 0
}

// output writes the report (or comparison) in the requested format, and
// the HTML page when asked for.
func output(o *options, w io.Writer, rep *bench.Report, c *bench.Comparison) error {
	var err error
	switch {
	case o.json && c != nil:
		err = bench.WriteJSON(w, c)
	case o.json:
		err = bench.WriteJSON(w, rep)
	case o.csv && c != nil:
		err = bench.WriteCSV(w, c.Runs...)
	case o.csv:
		err = bench.WriteCSV(w, rep)
	case c != nil:
		err = bench.WriteCompareText(w, c)
	default:
		err = bench.WriteText(w, rep)
	}
	if err != nil || o.html == "" {
		return err
	}
	f, err := os.Create(o.html)
	if err != nil {
		return err
	}
	if c != nil {
		err = bench.WriteCompareHTML(f, c)
	} else {
		err = bench.WriteHTML(f, rep)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
