package main

import (
	"errors"
	"testing"
	"time"

	"github.com/midgemq/midge/server"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		args  []string
		check func(config) bool
	}{
		{nil, func(c config) bool { return c.opts.Host == "0.0.0.0" && c.opts.Port == 4222 }},
		{[]string{"-a", "127.0.0.1", "-p", "5000", "-n", "alpha"}, func(c config) bool {
			return c.opts.Host == "127.0.0.1" && c.opts.Port == 5000 && c.opts.ServerName == "alpha"
		}},
		{[]string{"--addr", "::1", "--port", "1", "--name", "b"}, func(c config) bool {
			return c.opts.Host == "::1" && c.opts.Port == 1 && c.opts.ServerName == "b"
		}},
		{[]string{"--net", "h", "--server_name", "c"}, func(c config) bool { return c.opts.Host == "h" && c.opts.ServerName == "c" }},
		{[]string{"-D"}, func(c config) bool { return c.opts.Debug && !c.opts.Trace }},
		{[]string{"-V"}, func(c config) bool { return c.opts.Trace && !c.opts.Debug }},
		{[]string{"-DV"}, func(c config) bool { return c.opts.Trace && c.opts.Debug }},
		{[]string{"--debug", "--trace"}, func(c config) bool { return c.opts.Trace && c.opts.Debug }},
		{[]string{"-l", "x.log", "-P", "x.pid"}, func(c config) bool { return c.logFile == "x.log" && c.pidFile == "x.pid" }},
		{[]string{"--log", "y.log", "--pid", "y.pid"}, func(c config) bool { return c.logFile == "y.log" && c.pidFile == "y.pid" }},
		{[]string{"-v"}, func(c config) bool { return c.showVersion }},
		{[]string{"--version"}, func(c config) bool { return c.showVersion }},
		{nil, func(c config) bool {
			return c.opts.HTTPPort == 0 && c.opts.LameDuckDuration == server.DefaultLameDuckDuration &&
				c.opts.LameDuckGracePeriod == server.DefaultLameDuckGracePeriod
		}},
		{[]string{"-m", "8222", "--http_base_path", "/mon"}, func(c config) bool {
			return c.opts.HTTPPort == 8222 && c.opts.HTTPBasePath == "/mon"
		}},
		{[]string{"--http_port", "-1"}, func(c config) bool { return c.opts.HTTPPort == server.MonitorRandomPort }},
		{[]string{"-sl", "ldm=12"}, func(c config) bool { return c.signal == "ldm=12" }},
		{[]string{"--signal", "reload", "-P", "x.pid"}, func(c config) bool { return c.signal == "reload" && c.pidFile == "x.pid" }},
		{[]string{"--lame_duck_duration", "30s", "--lame_duck_grace_period", "5s"}, func(c config) bool {
			return c.opts.LameDuckDuration == 30*time.Second && c.opts.LameDuckGracePeriod == 5*time.Second
		}},
	}
	for _, tc := range cases {
		cfg, err := parseFlags(tc.args)
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
			continue
		}
		if !tc.check(cfg) {
			t.Errorf("%v: unexpected config %+v", tc.args, cfg)
		}
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--bogus"}, {"-p", "x"}, {"-p", "70000"}, {"-p", "-5"}, {"stray"}, {"-a"},
		{"-m", "-2"}, {"-m", "70000"}, {"--lame_duck_duration", "10s", "--lame_duck_grace_period", "10s"},
		{"--lame_duck_duration", "0s"},
	} {
		if _, err := parseFlags(args); err == nil || errors.Is(err, errHelp) {
			t.Errorf("%v: err = %v, want a usage error", args, err)
		}
	}
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		if _, err := parseFlags(args); !errors.Is(err, errHelp) {
			t.Errorf("%v: err = %v, want errHelp", args, err)
		}
	}
}
