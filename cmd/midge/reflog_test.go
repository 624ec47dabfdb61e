package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
)

// referenceLine is one log line in the reference server's format: pid,
// local time with microseconds, three-letter level, then the text.
var referenceLine = regexp.MustCompile(`^\[(\d+)\] (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6}) \[(INF|DBG|TRC|WRN|ERR|FTL)\] (.*)$`)

// The encoder's lines, entry by entry: levels, the connection prefix, the
// message and the other fields.
func TestReferenceEncoderLines(t *testing.T) {
	var buf bytes.Buffer
	core := zapcore.NewCore(newReferenceEncoder(4242, false, false), zapcore.AddSync(&buf), zapcore.DebugLevel)
	log := zap.New(core).Sugar()
	at := time.Date(2026, 12, 5, 13, 0, 43, 442320000, time.Local)
	log = log.WithOptions(zap.WithClock(fixedClock(at)))

	log.Infow("Server is ready")
	log.Debugw("<<- [SUB foo 1]", "remote", "127.0.0.1:5000", "cid", uint64(5))
	log.Debugw("client connected", "cid", 6, "kind", "nats")
	log.With("account", "A B").Warnw("slow consumer", "pending", 3, "error", errors.New("write: broken pipe"))
	log.Errorw("cannot open", "file", "")

	want := []string{
		"[4242] 2026/12/05 13:00:43.442320 [INF] Server is ready",
		"[4242] 2026/12/05 13:00:43.442320 [TRC] 127.0.0.1:5000 - cid:5 - <<- [SUB foo 1]",
		"[4242] 2026/12/05 13:00:43.442320 [DBG] cid:6 - client connected kind=nats",
		`[4242] 2026/12/05 13:00:43.442320 [WRN] slow consumer account="A B" error="write: broken pipe" pending=3`,
		`[4242] 2026/12/05 13:00:43.442320 [ERR] cannot open file=""`,
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// logtime: false leaves the time out; logtime_utc writes it in UTC.
func TestReferenceEncoderLogTime(t *testing.T) {
	at := time.Date(2026, 12, 5, 13, 0, 43, 442320000, time.FixedZone("X", 2*3600))
	for _, tc := range []struct {
		noTime, utc bool
		want        string
	}{
		{false, false, "[7] 2026/12/05 13:00:43.442320 [INF] ready\n"},
		{false, true, "[7] 2026/12/05 11:00:43.442320 [INF] ready\n"},
		{true, false, "[7] [INF] ready\n"},
	} {
		var buf bytes.Buffer
		core := zapcore.NewCore(newReferenceEncoder(7, tc.noTime, tc.utc), zapcore.AddSync(&buf), zapcore.DebugLevel)
		zap.New(core, zap.WithClock(fixedClock(at))).Info("ready")
		if buf.String() != tc.want {
			t.Errorf("noTime %v utc %v: %q, want %q", tc.noTime, tc.utc, buf.String(), tc.want)
		}
	}
}

// The flags and keys for the time of log lines, as nats-server's.
func TestLogTimeFlagsAndKeys(t *testing.T) {
	o, err := config.ParseConfig("logtime: false\nlogtime_utc: true\n")
	if err != nil || !o.NoLogTime || !o.LogTimeUTC || len(o.ConfigWarnings) != 0 {
		t.Fatalf("%v %v %v %v", o.NoLogTime, o.LogTimeUTC, o.ConfigWarnings, err)
	}
	for _, tc := range []struct {
		args        []string
		noTime, utc bool
	}{
		{nil, false, false},
		{[]string{"-T=false"}, true, false},
		{[]string{"--logtime=false", "--logtime_utc"}, true, true},
	} {
		cfg, err := parseFlags(tc.args)
		if err != nil || cfg.opts.NoLogTime != tc.noTime || cfg.opts.LogTimeUTC != tc.utc {
			t.Errorf("%v: NoLogTime %v LogTimeUTC %v (%v)", tc.args, cfg.opts.NoLogTime, cfg.opts.LogTimeUTC, err)
		}
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time                         { return time.Time(c) }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }

// With --log_format reference and -V, the binary's log reads like the
// reference server's for the same client session: every line has the
// [pid] date time [LVL] prefix, and the trace lines are the same text.
func TestReferenceLogFormatAsReferenceServer(t *testing.T) {
	session := "CONNECT {\"verbose\":false}\r\nSUB foo 1\r\nPUB foo 5\r\nhello\r\nPING\r\n"
	traces := []string{
		`<<- [CONNECT {"verbose":false}]`, "<<- [SUB foo 1]", "<<- [PUB foo 5]", `<<- MSG_PAYLOAD: ["hello"]`,
		"->> [MSG foo 1 5]", `->> MSG_PAYLOAD: ["hello"]`, "<<- [PING]", "->> [PONG]",
	}
	check := func(t *testing.T, clientURL string, log func() string, pid int) {
		u, err := url.Parse(clientURL)
		if err != nil {
			t.Fatal(err)
		}
		runRawSession(t, u.Host, session, "PONG\r\n")
		var text string
		deadline := time.Now().Add(10 * time.Second)
		for {
			text = log()
			if strings.Contains(text, "->> [PONG]") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no ->> [PONG] trace in the log:\n%s", text)
			}
			time.Sleep(10 * time.Millisecond)
		}
		var traced []string
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			m := referenceLine.FindStringSubmatch(line)
			if m == nil {
				t.Errorf("not in the reference format: %q", line)
				continue
			}
			if p, _ := strconv.Atoi(m[1]); pid > 0 && p != pid {
				t.Errorf("pid %d, want %d: %q", p, pid, line)
			}
			if at, err := time.ParseInLocation("2006/01/02 15:04:05.000000", m[2], time.Local); err != nil || time.Since(at).Abs() > time.Minute {
				t.Errorf("time %q is not now (%v): %q", m[2], err, line)
			}
			if m[3] == "TRC" {
				// After the connection prefix ("host:port - cid:N - ").
				traced = append(traced, m[4][max(0, strings.Index(m[4], "cid:")):])
			}
		}
		for _, want := range traces {
			found := false
			for _, line := range traced {
				if strings.HasSuffix(line, " - "+want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no [TRC] line ending %q in:\n%s", want, strings.Join(traced, "\n"))
			}
		}
	}

	t.Run("midge", func(t *testing.T) {
		dir := t.TempDir()
		logFile := filepath.Join(dir, "midge.log")
		cmd := exec.Command(midgeBin, "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", dir,
			"-l", logFile, "-V", "--log_format", "reference")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		ports := portsOf(t, dir, cmd.Process.Pid)
		read := func() string { b, _ := os.ReadFile(logFile); return string(b) }
		check(t, ports["nats"][0], read, cmd.Process.Pid)
	})
	t.Run("reference", func(t *testing.T) {
		r := testtools.StartReference(t, "-V")
		check(t, r.URL, r.Log, 0)
	})
}

// A configuration file chooses the format with log_format.
func TestLogFormatFromConfigFile(t *testing.T) {
	o, err := config.ParseConfig("log_format: reference\n")
	if err != nil || o.LogFormat != logFormatReference {
		t.Fatalf("%q %v", o.LogFormat, err)
	}
}

// An unknown --log_format is refused before the server starts.
func TestUnknownLogFormatExitsOne(t *testing.T) {
	_, stderr, code := runMidge(t, "-a", "127.0.0.1", "-p", "-1", "--log_format", "fancy")
	if code != 1 || !strings.Contains(stderr, `unknown log format "fancy"`) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// runRawSession sends a protocol session over TCP and reads until the
// answer ends with end.
func runRawSession(t *testing.T, addr, session, end string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadString('\n'); err != nil { // INFO
		t.Fatal(err)
	}
	if _, err := fmt.Fprint(conn, session); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for !strings.HasSuffix(got.String(), end) {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", got.String(), err)
		}
		got.WriteString(line)
	}
}
