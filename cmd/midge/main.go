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
	"syscall"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/midgemq/midge/server"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run is main without the exit, returning the process status: 0 after a
// clean shutdown, 1 when the server cannot start, 2 for bad usage.
func run(args []string) int {
	cfg, err := parseFlags(args)
	switch {
	case errors.Is(err, errHelp):
		fmt.Print(usageText)
		return 0
	case errors.As(err, new(*server.ConfigError)):
		fmt.Fprintf(os.Stderr, "midge: %v\n", err)
		return 1
	case err != nil:
		fmt.Fprintf(os.Stderr, "midge: %v\n\n%s", err, usageText)
		return 2
	}
	if cfg.showVersion {
		fmt.Printf("midge version %s (NATS protocol as nats-server %s, %s)\n",
			server.Version, server.ProtocolVersion, runtime.Version())
		return 0
	}
	if cfg.checkConfig {
		return checkConfig(cfg)
	}

	log, closeLog, err := newLogger(cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "midge: %v\n", err)
		return 1
	}
	defer closeLog()
	cfg.opts.Logger = log

	srv, err := server.New(cfg.opts)
	if err != nil {
		log.Error("invalid configuration", zap.Error(err))
		return 1
	}
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

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	sig := <-sigs
	log.Info("shutting down", zap.String("signal", sig.String()))
	srv.Shutdown()
	return 0
}

// newLogger builds the zap logger the flags ask for: info level by default,
// debug with -D or -V, to stderr or the -l file.
func newLogger(cfg config) (*zap.Logger, func(), error) {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeLevel = zapcore.CapitalLevelEncoder
	level := zapcore.InfoLevel
	if cfg.opts.Debug || cfg.opts.Trace {
		level = zapcore.DebugLevel
	}
	out := zapcore.Lock(os.Stderr)
	closeFn := func() {}
	if cfg.opts.LogFile != "" {
		f, err := os.OpenFile(cfg.opts.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot open log file: %w", err)
		}
		out = zapcore.Lock(f)
		closeFn = func() { _ = f.Close() }
	}
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), out, level)
	log := zap.New(core).With(zap.Int("pid", os.Getpid()))
	return log, func() { _ = log.Sync(); closeFn() }, nil
}
