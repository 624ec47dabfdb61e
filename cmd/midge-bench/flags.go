package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/midgemq/midge/bench"
)

// options are the parsed command line.
type options struct {
	cfg       bench.Config
	embedded  bool
	json, csv bool
	html      string
	compare   string
	pairs     int
	monitor   string // A's monitoring URL, for its slow-consumer count
	monitorB  string // B's
	// defaulted notes a setting chosen for the user, to say so.
	defaulted  string
	noProgress bool
	list       bool
}

var errHelp = errors.New("help requested")

const usageHead = `usage: midge-bench SCENARIO [flags]

Load-tests a NATS-protocol server (midge, nats-server, ...) and reports
throughput, latency percentiles and lost messages. Exit status: 0 when every
message arrived, 1 when messages were lost or the run failed, 2 on bad usage.

Scenarios:
`

// parseFlags parses args; the scenario may come before or after the flags.
// -h/--help prints the usage to helpOut and returns errHelp.
func parseFlags(args []string, helpOut io.Writer) (*options, error) {
	o := &options{pairs: 3}
	fs := flag.NewFlagSet("midge-bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &o.cfg
	fs.StringVar(&c.URL, "server", bench.DefaultURL, "server `URL`")
	fs.BoolVar(&o.embedded, "embedded", false, "start an in-process midge on a free port and benchmark it")
	fs.IntVar(&c.Msgs, "msgs", bench.DefaultMsgs, "messages to publish in total, split across publishers")
	size := fs.String("size", strconv.Itoa(bench.DefaultSize), "payload `size` in bytes (suffixes B, K/KiB, M/MiB)")
	fs.DurationVar(&c.Duration, "duration", 0, "publish for this long instead of --msgs messages (e.g. 10s)")
	fs.IntVar(&c.Pubs, "pubs", 0, "publishers / requesters / putters (default per scenario)")
	fs.IntVar(&c.Subs, "subs", 0, "subscribers / responders / consumers / getters (default per scenario)")
	fs.StringVar(&c.Subject, "subject", "", "subject (default "+bench.DefaultSubject+"; the stream's subject for js-*, default "+bench.DefaultJSSubject+")")
	fs.StringVar(&c.Stream, "stream", "", "stream name for js-* (default "+bench.DefaultStream+"), bucket for kv-* (default "+bench.DefaultBucket+")")
	fs.StringVar(&c.Storage, "storage", "file", "JetStream storage: file or memory")
	fs.IntVar(&c.Replicas, "replicas", 0, "js-*: the stream's replicas (num_replicas) on a JetStream cluster")
	fs.BoolVar(&c.SyncPub, "sync", false, "js-pub: wait for each ack before publishing the next message")
	fs.IntVar(&c.Window, "window", bench.DefaultWindow, "js-pub async: max publishes awaiting their ack per publisher")
	fs.IntVar(&c.Batch, "batch", bench.DefaultBatch, "js-fetch/js-consume/js-ordered: messages per pull request")
	fs.BoolVar(&c.NoResponders, "no-responders", false, "reqrep: use responders already running (e.g. nats bench service serve)")
	fs.DurationVar(&c.Timeout, "timeout", bench.DefaultTimeout, "fail a phase that makes no progress for this long")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON instead of the table")
	fs.BoolVar(&o.csv, "csv", false, "print the report as CSV instead of the table")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report with charts to `FILE`")
	fs.StringVar(&o.compare, "compare", "", "run against --server (A) and `URL2` (B) interleaved, A B A B, and compare")
	fs.IntVar(&o.pairs, "runs", 3, "with --compare: runs per server")
	fs.StringVar(&o.monitor, "monitor", "", "the server's monitoring `URL` (e.g. http://127.0.0.1:8222): its /varz slow_consumers tells why it closed a client")
	fs.StringVar(&o.monitorB, "compare-monitor", "", "with --compare: the second server's monitoring `URL`")
	fs.StringVar(&c.Creds, "creds", "", "user credentials `file`")
	fs.StringVar(&c.User, "user", "", "user name")
	fs.StringVar(&c.Password, "password", "", "password")
	fs.StringVar(&c.Token, "token", "", "authentication token")
	fs.BoolVar(&o.noProgress, "no-progress", false, "no progress bars even on a terminal")
	fs.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	fs.Usage = func() { usage(helpOut, fs) }

	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if o.list {
		return o, nil
	}
	switch len(positional) {
	case 0:
		return nil, errors.New("no scenario given (one of " + bench.ScenarioNames() + ")")
	case 1:
		c.Scenario = positional[0]
	default:
		return nil, fmt.Errorf("one scenario at a time, got %q", positional)
	}
	var err error
	if c.Size, err = parseSize(*size); err != nil {
		return nil, err
	}
	if o.json && o.csv {
		return nil, errors.New("--json and --csv are exclusive")
	}
	if o.pairs < 1 {
		return nil, errors.New("--runs must be at least 1")
	}
	if c.Duration > 0 && c.Duration < 10*time.Millisecond {
		return nil, errors.New("--duration must be at least 10ms")
	}
	if o.monitorB != "" && o.compare == "" {
		return nil, errors.New("--compare-monitor needs --compare")
	}
	if o.embedded && o.monitor != "" {
		return nil, errors.New("--monitor is for --server: the embedded server is asked directly")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	sc, err := c.Normalize() // fills the defaults and validates
	if err != nil {
		return nil, err
	}
	if o.compare != "" && !set["msgs"] && !set["duration"] && !sc.Prefills && c.Scenario != "sub" {
		// Count-bounded runs of the default size last a fraction of a
		// second, too short for ratios between runs to mean anything.
		c.Duration = bench.DefaultCompareDuration
		o.defaulted = fmt.Sprintf("each run publishes for %s (--duration); set --duration or --msgs to change it", c.Duration)
	}
	return o, nil
}

// parseSize reads a byte count with an optional unit: 128, 128B, 4K, 4KiB,
// 1MB, 1MiB (K and M are 1024-based, as in nats bench).
func parseSize(s string) (int, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"K", 1 << 10}, {"M", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(t))
	if err != nil || n < 0 || n > 64<<20/mult {
		return 0, fmt.Errorf("--size %q: want a byte count such as 128, 4KiB or 1MiB", s)
	}
	if n*mult == 0 {
		return 0, fmt.Errorf("--size must be at least 1 byte")
	}
	return n * mult, nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, usageHead)
	for _, s := range bench.Scenarios() {
		fmt.Fprintf(w, "  %-11s %s\n", s.Name, s.Summary)
	}
	fmt.Fprint(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(w, `
Examples:
  midge-bench pubsub --embedded
  midge-bench fanout --subs 8 --size 1KiB --server nats://127.0.0.1:4222
  midge-bench js-pub --window 256 --storage memory --html report.html
  midge-bench reqrep --embedded --compare nats://127.0.0.1:4222 --runs 5
  midge-bench fanout --server nats://127.0.0.1:4222 --monitor http://127.0.0.1:8222
`)
}
