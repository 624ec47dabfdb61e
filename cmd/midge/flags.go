package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/midgemq/midge/server"
)

// config is what the command line asks for.
type config struct {
	opts        server.Options
	logFile     string
	pidFile     string
	signal      string // --signal: send it to a running midge instead of serving
	showVersion bool
}

// usageText mirrors nats-server's option names for what midge supports, so
// scripts written for it work unchanged.
const usageText = `Usage: midge [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222)
    -n, --name, --server_name <name> Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring (-1: any free port)
        --http_base_path <path>      Prefix for the monitoring endpoints
    -sl,--signal <signal>[=<pid>]    Send signal to a midge process (ldm, stop, quit,
                                     term, reopen, reload); <pid> is a PID or a pid
                                     file, or give the pid file with -P
        --lame_duck_duration <dur>   Spread closing clients in lame duck mode over
                                     this long (default: 2m)
        --lame_duck_grace_period <dur>
                                     Wait this long in lame duck mode before closing
                                     clients (default: 10s)

JetStream Options:
    -js, --jetstream                 Enable JetStream (streams)
    -sd, --store_dir <dir>           Stream store directory (default: ./data)
    --sync_interval <always|dur>     "always" (default): fsync before every
                                     acknowledgement, group-committed; a
                                     duration such as 2m: acknowledge once
                                     written, fsync at that interval

Logging Options:
    -l, --log <file>                 File to redirect log output
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
`

// defaultStoreDir is where streams live unless -sd says otherwise.
const defaultStoreDir = "./data"

// parseSyncInterval reads nats-server's sync_interval: "always" or a
// positive duration.
func parseSyncInterval(v string) (time.Duration, error) {
	if v == "always" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("invalid sync_interval %q (want \"always\" or a duration like 2m)", v)
	}
	return d, nil
}

// errHelp reports that -h was given; the caller prints usage and exits 0.
var errHelp = errors.New("help requested")

// parseFlags reads args (without the program name). Flag errors come back
// as errors; nothing is printed here except by the caller.
func parseFlags(args []string) (config, error) {
	cfg := config{opts: server.DefaultOptions()}
	fs := flag.NewFlagSet("midge", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}

	o := &cfg.opts
	for _, name := range []string{"a", "addr", "net"} {
		fs.StringVar(&o.Host, name, o.Host, "")
	}
	for _, name := range []string{"p", "port"} {
		fs.IntVar(&o.Port, name, o.Port, "")
	}
	for _, name := range []string{"n", "name", "server_name"} {
		fs.StringVar(&o.ServerName, name, "", "")
	}
	for _, name := range []string{"P", "pid"} {
		fs.StringVar(&cfg.pidFile, name, "", "")
	}
	for _, name := range []string{"m", "http_port"} {
		fs.IntVar(&o.HTTPPort, name, 0, "")
	}
	fs.StringVar(&o.HTTPBasePath, "http_base_path", "", "")
	for _, name := range []string{"sl", "signal"} {
		fs.StringVar(&cfg.signal, name, "", "")
	}
	fs.DurationVar(&o.LameDuckDuration, "lame_duck_duration", server.DefaultLameDuckDuration, "")
	fs.DurationVar(&o.LameDuckGracePeriod, "lame_duck_grace_period", server.DefaultLameDuckGracePeriod, "")
	for _, name := range []string{"l", "log"} {
		fs.StringVar(&cfg.logFile, name, "", "")
	}
	for _, name := range []string{"D", "debug"} {
		fs.BoolVar(&o.Debug, name, false, "")
	}
	for _, name := range []string{"V", "trace"} {
		fs.BoolVar(&o.Trace, name, false, "")
	}
	for _, name := range []string{"js", "jetstream"} {
		fs.BoolVar(&o.JetStream, name, false, "")
	}
	for _, name := range []string{"sd", "store_dir"} {
		fs.StringVar(&o.StoreDir, name, "", "")
	}
	syncInterval := "always"
	fs.StringVar(&syncInterval, "sync_interval", syncInterval, "")
	var debugTrace bool
	fs.BoolVar(&debugTrace, "DV", false, "")
	for _, name := range []string{"v", "version"} {
		fs.BoolVar(&cfg.showVersion, name, false, "")
	}

	err := fs.Parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, errHelp
		}
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.SyncInterval, err = parseSyncInterval(syncInterval); err != nil {
		return cfg, err
	}
	if o.StoreDir == "" {
		o.StoreDir = defaultStoreDir
	}
	if debugTrace {
		o.Debug, o.Trace = true, true
	}
	if o.Port < 0 || o.Port > 65535 {
		return cfg, fmt.Errorf("invalid port %d (want 0-65535)", o.Port)
	}
	if o.HTTPPort < server.MonitorRandomPort || o.HTTPPort > 65535 {
		return cfg, fmt.Errorf("invalid http_port %d (want -1-65535)", o.HTTPPort)
	}
	if o.LameDuckDuration <= 0 || o.LameDuckGracePeriod < 0 || o.LameDuckGracePeriod >= o.LameDuckDuration {
		return cfg, errors.New("lame duck grace period must be at least 0 and shorter than the (positive) duration")
	}
	return cfg, nil
}
