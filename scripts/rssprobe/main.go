// Command rssprobe measures a midge process's resident memory in the two
// situations that grow it most (scripts/memory-rss.sh runs both, for midge
// and the reference server):
//
//	rssprobe subs   --bin bin/midge --n 1000000   one connection subscribes n
//	                subjects, then closes; RSS before, with them, and after
//	rssprobe stored --bin bin/midge --n 1000000 [--subjects 100000]
//	                n 16-byte messages stored over that many subjects,
//	                clean restart; RSS once the stream is served again
//
// The binary only needs midge's -a, -p, -js and -sd flags, so the same
// probe measures the reference server (--bin nats-server).
//
// It starts the server itself on a free loopback port (and a temporary
// store) so that both measurements are repeatable.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: rssprobe subs|stored --bin PATH --n N"))
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	bin := fs.String("bin", "bin/midge", "midge binary")
	n := fs.Int("n", 1000000, "subscriptions or messages")
	subjects := fs.Int("subjects", 1, "stored: spread the messages over this many subjects")
	settle := fs.Duration("settle", 5*time.Second, "how long to let memory settle before the last reading")
	fs.Parse(os.Args[2:])
	switch mode {
	case "subs":
		subs(*bin, *n, *settle)
	case "stored":
		stored(*bin, *n, *subjects, *settle)
	default:
		fail(fmt.Errorf("unknown mode %q", mode))
	}
}

type server struct {
	cmd  *exec.Cmd
	addr string
}

func start(bin string, args ...string) *server {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	s := &server{cmd: cmd, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	fail(fmt.Errorf("%s did not start", bin))
	return nil
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

func (s *server) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		fail(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib / 1024
		}
	}
	fail(fmt.Errorf("no VmRSS"))
	return 0
}

// subs: one raw connection subscribes n distinct subjects, PING/PONG, then
// closes.
func subs(bin string, n int, settle time.Duration) {
	s := start(bin)
	defer s.stop()
	base := s.rss()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		fail(err)
	}
	r := bufio.NewReader(c)
	r.ReadString('\n') // INFO
	w := bufio.NewWriterSize(c, 1<<16)
	fmt.Fprintf(w, "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "SUB probe.%d.x %d\r\n", i, i+1)
	}
	w.WriteString("PING\r\n")
	w.Flush()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			fail(fmt.Errorf("waiting for PONG: %w", err))
		}
		if strings.HasPrefix(line, "PONG") {
			break
		}
		if strings.HasPrefix(line, "-ERR") {
			fail(fmt.Errorf("server: %s", line))
		}
	}
	with := s.rss()
	c.Close()
	time.Sleep(settle)
	fmt.Printf("subs=%d rss_base_mib=%d rss_with_subs_mib=%d rss_after_close_mib=%d\n", n, base, with, s.rss())
}

// stored: n 16-byte messages into a file stream, clean restart, RSS once
// the stream answers with all of them.
func stored(bin string, n, subjects int, settle time.Duration) {
	if subjects < 1 {
		subjects = 1
	}
	dir, err := os.MkdirTemp("", "rssprobe")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	s := start(bin, "-js", "-sd", dir)
	base := s.rss()
	nc, err := nats.Connect("nats://" + s.addr)
	if err != nil {
		fail(err)
	}
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "RSS", Subjects: []string{"rss.>"}}); err != nil {
		fail(err)
	}
	payload := []byte("0123456789abcdef")
	names := make([]string, subjects)
	for i := range names {
		names[i] = "rss." + strconv.Itoa(i)
	}
	for i := 0; i < n; i++ {
		subject := names[i%subjects]
		_, err := js.PublishAsync(subject, payload)
		for errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			// An fsync took longer than the client's stall wait: go on
			// once acks have come.
			time.Sleep(10 * time.Millisecond)
			_, err = js.PublishAsync(subject, payload)
		}
		if err != nil {
			fail(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		fail(ctx.Err())
	}
	filled := s.rss()
	nc.Close()
	s.stop()

	s = start(bin, "-js", "-sd", dir)
	defer s.stop()
	nc, err = nats.Connect("nats://" + s.addr)
	if err != nil {
		fail(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	st, err := js.Stream(ctx, "RSS")
	if err != nil {
		fail(err)
	}
	if got := st.CachedInfo().State.Msgs; got != uint64(n) {
		fail(fmt.Errorf("stream holds %d messages after restart, want %d", got, n))
	}
	if _, err := st.GetMsg(ctx, uint64(n/2)); err != nil { // one read from the middle
		fail(err)
	}
	time.Sleep(settle)
	fmt.Printf("msgs=%d subjects=%d rss_base_mib=%d rss_filled_mib=%d rss_restarted_mib=%d\n", n, subjects, base, filled, s.rss())
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rssprobe:", err)
	os.Exit(1)
}
