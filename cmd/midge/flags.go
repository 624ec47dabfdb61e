package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/midgemq/midge/config"
)

// invocation is what the command line (and a configuration file) asks for.
type invocation struct {
	opts        config.Options
	configFile  string
	checkConfig bool
	signal      string // --signal: send it to a running midge instead of serving
	showVersion bool
}

// usageText mirrors nats-server's option names for what midge supports, so
// scripts written for it work unchanged.
const usageText = `Usage: midge [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1: any free port)
    -n, --name, --server_name <name> Server name (default: auto)
    -P, --pid <file>                 File to store PID
        --ports_file_dir <dir>       Write <executable>_<pid>.ports there, listing
                                     every listener's URLs (ports -1: any free port)
    -c, --config <file>              Configuration file (nats-server format)
    -t                               Test configuration and exit
    -m, --http_port <port>           Use port for http monitoring (-1: any free port)
        --http_base_path <path>      Prefix for the monitoring endpoints
        --profile <port>             Serve Go pprof profiles on this port (-1: any free port)
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

Kafka Options:
        --kafka_port <port>          Serve Kafka clients on this port (-1: any free
                                     port); topics are streams, so it needs -js

Cluster Options:
        --cluster <url>              Listen for routes on nats://host:port (-1: any free port)
        --cluster_name <name>        Cluster name (every server of the cluster the same)
        --routes <url>[,<url>...]    Routes to solicit (nats-route://host:port)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -DV                              Debug and trace

Authorization Options:
    --user <user>                    User required for connections
    --pass <password>                Password required for connections
    --auth <token>                   Authorization token required for connections

TLS Options:
    --tls                            Enable TLS, do not verify clients (default: false)
    --tlscert <file>                 Server certificate file
    --tlskey <file>                  Private key for server certificate
    --tlsverify                      Enable TLS, verify client certificates
    --tlscacert <file>               Client certificate CA for verification

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

// applyClusterFlags reads --cluster nats://host:port (the route listener)
// and --routes url[,url...] (replacing the file's routes, as nats-server
// does).
func applyClusterFlags(o *config.Options, listen, routes string) error {
	if listen != "" {
		host, port, err := config.ParseClusterListen(listen)
		if err != nil {
			return err
		}
		o.Cluster.Host, o.Cluster.Port = host, port
	}
	if routes != "" {
		o.Cluster.Routes = nil
		for _, r := range strings.Split(routes, ",") {
			if strings.TrimSpace(r) == "" {
				continue
			}
			if _, err := config.ParseRouteURL(r); err != nil {
				return err
			}
			o.Cluster.Routes = append(o.Cluster.Routes, strings.TrimSpace(r))
		}
	}
	return nil
}

// errHelp reports that -h was given; the caller prints usage and exits 0.
var errHelp = errors.New("help requested")

// parseFlags reads args (without the program name). With -c the file is
// read first and the flags then override what it says. Flag errors come
// back as errors; nothing is printed here except by the caller.
func parseFlags(args []string) (invocation, error) {
	cfg := invocation{opts: config.DefaultOptions()}
	var tf tlsFlags
	if err := bindAndParse(&cfg, &tf, args); err != nil {
		return cfg, err
	}
	if cfg.configFile != "" {
		var err error
		if cfg, tf, err = reparseOverConfigFile(cfg.configFile, args); err != nil {
			return cfg, err
		}
	}
	if tf.set {
		if err := applyTLSFlags(&cfg.opts, tf); err != nil {
			return cfg, err
		}
	}
	o := &cfg.opts
	if o.Port < config.RandomPort || o.Port > 65535 {
		return cfg, fmt.Errorf("invalid port %d (want 0-65535, or -1 for any free port)", o.Port)
	}
	if o.HTTPPort < config.MonitorRandomPort || o.HTTPPort > 65535 {
		return cfg, fmt.Errorf("invalid http_port %d (want -1-65535)", o.HTTPPort)
	}
	if o.Kafka.Port < config.RandomPort || o.Kafka.Port > 65535 {
		return cfg, fmt.Errorf("invalid kafka_port %d (want -1-65535)", o.Kafka.Port)
	}
	// Zero means the default (a config file leaves them unset).
	if o.LameDuckDuration < 0 || o.LameDuckGracePeriod < 0 ||
		o.LameDuckDuration > 0 && o.LameDuckGracePeriod >= o.LameDuckDuration {
		return cfg, errors.New("lame duck grace period must be at least 0 and shorter than the duration")
	}
	return cfg, nil
}

// bindAndParse defines every flag on cfg's current values and parses args.
func bindAndParse(cfg *invocation, tf *tlsFlags, args []string) error {
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
		fs.StringVar(&o.ServerName, name, o.ServerName, "")
	}
	for _, name := range []string{"P", "pid"} {
		fs.StringVar(&o.PidFile, name, o.PidFile, "")
	}
	for _, name := range []string{"c", "config"} {
		fs.StringVar(&cfg.configFile, name, cfg.configFile, "")
	}
	fs.BoolVar(&cfg.checkConfig, "t", false, "")
	for _, name := range []string{"m", "http_port"} {
		fs.IntVar(&o.HTTPPort, name, o.HTTPPort, "")
	}
	fs.StringVar(&o.HTTPBasePath, "http_base_path", o.HTTPBasePath, "")
	fs.IntVar(&o.ProfPort, "profile", o.ProfPort, "")
	fs.StringVar(&o.PortsFileDir, "ports_file_dir", o.PortsFileDir, "")
	fs.IntVar(&o.Kafka.Port, "kafka_port", o.Kafka.Port, "")
	for _, name := range []string{"sl", "signal"} {
		fs.StringVar(&cfg.signal, name, cfg.signal, "")
	}
	fs.DurationVar(&o.LameDuckDuration, "lame_duck_duration", o.LameDuckDuration, "")
	fs.DurationVar(&o.LameDuckGracePeriod, "lame_duck_grace_period", o.LameDuckGracePeriod, "")
	for _, name := range []string{"l", "log"} {
		fs.StringVar(&o.LogFile, name, o.LogFile, "")
	}
	for _, name := range []string{"D", "debug"} {
		fs.BoolVar(&o.Debug, name, o.Debug, "")
	}
	for _, name := range []string{"V", "trace"} {
		fs.BoolVar(&o.Trace, name, o.Trace, "")
	}
	for _, name := range []string{"js", "jetstream"} {
		fs.BoolVar(&o.JetStream, name, o.JetStream, "")
	}
	for _, name := range []string{"sd", "store_dir"} {
		fs.StringVar(&o.StoreDir, name, o.StoreDir, "")
	}
	syncInterval := "always"
	if o.SyncInterval > 0 {
		syncInterval = o.SyncInterval.String()
	}
	fs.StringVar(&syncInterval, "sync_interval", syncInterval, "")
	var debugTrace bool
	fs.BoolVar(&debugTrace, "DV", false, "")
	for _, name := range []string{"v", "version"} {
		fs.BoolVar(&cfg.showVersion, name, false, "")
	}
	fs.StringVar(&o.Auth.Username, "user", o.Auth.Username, "")
	fs.StringVar(&o.Auth.Password, "pass", o.Auth.Password, "")
	fs.StringVar(&o.Auth.Token, "auth", o.Auth.Token, "")
	fs.BoolVar(&tf.enable, "tls", false, "")
	fs.BoolVar(&tf.verify, "tlsverify", false, "")
	fs.StringVar(&tf.cert, "tlscert", "", "")
	fs.StringVar(&tf.key, "tlskey", "", "")
	fs.StringVar(&tf.ca, "tlscacert", "", "")
	var clusterListen, routes string
	fs.StringVar(&clusterListen, "cluster", "", "")
	fs.StringVar(&clusterListen, "cluster_listen", "", "")
	fs.StringVar(&routes, "routes", "", "")
	fs.StringVar(&o.Cluster.Name, "cluster_name", o.Cluster.Name, "")

	err := fs.Parse(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.SyncInterval, err = parseSyncInterval(syncInterval); err != nil {
		return err
	}
	if o.StoreDir == "" {
		o.StoreDir = defaultStoreDir
	}
	if debugTrace {
		o.Debug, o.Trace = true, true
	}
	if err := applyClusterFlags(o, clusterListen, routes); err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "tls", "tlsverify", "tlscert", "tlskey", "tlscacert":
			tf.set = true
		}
	})
	return nil
}
