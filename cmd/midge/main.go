// Command midge runs the midge message broker, a server for the NATS client
// protocol. Its flags follow nats-server's for the features midge has.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main without the exit, returning the process status: 0 after a
// clean shutdown, 1 when the server cannot start, 2 for bad usage.
func run(args []string) int {
	return runFrom(commandLine(args))
}

// configSource produces the configuration: at start, and again for each
// reload (SIGHUP). That is the command line and the -c file it names, which
// is read again each time.
type configSource func() (invocation, error)

func commandLine(args []string) configSource {
	return func() (invocation, error) { return parseFlags(args) }
}

func runFrom(source configSource) int {
	cfg, err := source()
	switch {
	case errors.Is(err, errHelp):
		fmt.Print(usageText)
		return 0
	case errors.As(err, new(*config.ConfigError)):
		fmt.Fprintf(os.Stderr, "midge: %v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "midge: %v\n\n%s", err, usageText)
		return 2
	}
	if cfg.showVersion {
		fmt.Printf("midge version %s (NATS protocol as nats-server %s, %s)\n",
			broker.Version, broker.ProtocolVersion, runtime.Version())
		return 0
	}
	if cfg.checkConfig {
		return checkConfig(cfg)
	}
	if cfg.signal != "" {
		if err := sendSignal(cfg.signal, cfg.opts.PidFile); err != nil {
			fmt.Fprintf(os.Stderr, "midge: %v\n", err)
			return 1
		}
		return 0
	}

	log, out, closeLog, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "midge: %v\n", err)
		return 1
	}
	defer closeLog()

	srv, err := server.New(cfg.opts, zapLogger{log.Sugar()})
	if err != nil {
		log.Error("invalid configuration", zap.Error(err))
		return 1
	}
	// Signals are caught before the pid file and the startup line exist,
	// so that whoever reads either may signal at once.
	sigs := catchSignals()
	defer signal.Stop(sigs)
	// The pid file exists before the startup line, so whoever waits for
	// that line can rely on it.
	if cfg.opts.PidFile != "" {
		if err := os.WriteFile(cfg.opts.PidFile, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			log.Error("cannot write pid file", zap.String("file", cfg.opts.PidFile), zap.Error(err))
			return 1
		}
		defer os.Remove(cfg.opts.PidFile)
	}
	if err := srv.Start(); err != nil {
		log.Error(err.Error())
		return 1
	}
	return serveSignals(srv, sigs, log, out, source)
}

// newLogger builds the zap logger the flags ask for: info level by default,
// debug with -D or -V, to stderr or the -l file, in zap's console format or
// the reference server's (--log_format).
func newLogger(cfg invocation) (*zap.Logger, *logOutput, func(), error) {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	if cfg.opts.LogTimeUTC {
		enc.EncodeTime = func(t time.Time, pe zapcore.PrimitiveArrayEncoder) { zapcore.ISO8601TimeEncoder(t.UTC(), pe) }
	}
	if cfg.opts.NoLogTime {
		enc.TimeKey = ""
	}
	enc.EncodeLevel = zapcore.CapitalLevelEncoder
	out := &logOutput{level: zap.NewAtomicLevelAt(levelFor(cfg.opts.Debug, cfg.opts.Trace))}
	sink := zapcore.Lock(os.Stderr)
	closeFn := func() {}
	if cfg.opts.LogFile != "" {
		f, err := openLogFile(cfg.opts.LogFile)
		if err != nil {
			return nil, nil, nil, err
		}
		out.file, sink = f, f
		closeFn = func() { _ = f.Close() }
	}
	var log *zap.Logger
	switch cfg.opts.LogFormat {
	case "", logFormatConsole:
		core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), sink, out.level)
		log = zap.New(core).With(zap.Int("pid", os.Getpid()))
	case logFormatReference:
		log = zap.New(zapcore.NewCore(newReferenceEncoder(os.Getpid(), cfg.opts.NoLogTime, cfg.opts.LogTimeUTC), sink, out.level))
	default:
		closeFn()
		return nil, nil, nil, fmt.Errorf("unknown log format %q (want %s or %s)", cfg.opts.LogFormat, logFormatConsole, logFormatReference)
	}
	return log, out, func() { _ = log.Sync(); closeFn() }, nil
}
