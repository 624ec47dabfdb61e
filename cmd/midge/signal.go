package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"go.uber.org/zap"

	"github.com/midgemq/midge/server"
)

// Signals, as nats-server handles them:
//
//	SIGINT          shut down (flush, close clients, exit 0)
//	SIGTERM         the same, unless in lame duck mode (which ends in a shutdown anyway)
//	SIGUSR1         reopen the log file (after log rotation moved it)
//	SIGUSR2         lame duck mode, then exit 0
//	SIGHUP          reload the configuration
//
// and `midge --signal CMD[=PID|=PIDFILE]` (or with -P PIDFILE) sends them.

// signalCommands maps --signal commands to signals; "stop" kills, as in
// nats-server.
var signalCommands = map[string]syscall.Signal{
	"stop":   syscall.SIGKILL,
	"quit":   syscall.SIGINT,
	"term":   syscall.SIGTERM,
	"reopen": syscall.SIGUSR1,
	"reload": syscall.SIGHUP,
	"ldm":    syscall.SIGUSR2,
}

func signalNames() string {
	names := make([]string, 0, len(signalCommands))
	for name := range signalCommands {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// sendSignal carries out --signal: spec is CMD, CMD=PID or CMD=PIDFILE;
// without a PID the -P pid file names the process.
func sendSignal(spec, pidFile string) error {
	cmd, target, hasTarget := strings.Cut(spec, "=")
	sig, ok := signalCommands[cmd]
	if !ok {
		return fmt.Errorf("unknown signal %q (want one of %s)", cmd, signalNames())
	}
	if !hasTarget {
		target = pidFile
	}
	if target == "" {
		return fmt.Errorf("--signal %s: no process given (use %s=PID, %s=PIDFILE or -P PIDFILE)", cmd, cmd, cmd)
	}
	pid, err := resolvePid(target)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s to process %d: %w", cmd, pid, err)
	}
	return nil
}

// resolvePid reads target as a PID or, failing that, as a pid file.
func resolvePid(target string) (int, error) {
	if pid, err := strconv.Atoi(target); err == nil {
		if pid <= 0 {
			return 0, fmt.Errorf("invalid pid %d", pid)
		}
		return pid, nil
	}
	b, err := os.ReadFile(target)
	if err != nil {
		return 0, fmt.Errorf("reading pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %s does not hold a pid: %q", target, b)
	}
	return pid, nil
}

// catchSignals starts delivering the signals midge handles to a channel.
func catchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	return sigs
}

// serveSignals runs until the server stops, handling signals, and returns
// the process status.
func serveSignals(srv *server.Server, sigs <-chan os.Signal, log *zap.Logger, out *logOutput, source configSource) int {
	for {
		select {
		case <-srv.Stopped(): // lame duck mode ended
			return 0
		case sig := <-sigs:
			log.Info("trapped signal", zap.String("signal", sig.String()))
			switch sig {
			case syscall.SIGINT:
				srv.Shutdown()
				return 0
			case syscall.SIGTERM:
				if srv.InLameDuckMode() {
					log.Info("lame duck mode in progress; it ends in a shutdown")
					continue
				}
				srv.Shutdown()
				return 0
			case syscall.SIGUSR1:
				if err := out.reopen(); err != nil {
					log.Error("log file not reopened", zap.Error(err))
				} else {
					log.Info("log file reopened")
				}
			case syscall.SIGUSR2:
				go srv.LameDuckShutdown()
			case syscall.SIGHUP:
				_ = reload(srv, log, out, source)
			}
		}
	}
}

// reload reads the configuration source again and applies it; on any
// error the configuration in force stays.
func reload(srv *server.Server, log *zap.Logger, out *logOutput, source configSource) error {
	cfg, err := source()
	if err == nil && cfg.signal != "" {
		err = errors.New("--signal is not a server setting")
	}
	if err != nil {
		log.Error("configuration not reloaded; keeping the one in force", zap.Error(err))
		return err
	}
	// The level changes first, so that whatever follows the server's
	// "configuration reloaded" line is logged at the new level.
	was := out.level.Level()
	out.level.SetLevel(levelFor(cfg.opts.Debug, cfg.opts.Trace))
	if err := srv.Reload(cfg.opts); err != nil {
		out.level.SetLevel(was)
		return err // the server logged why
	}
	return nil
}
