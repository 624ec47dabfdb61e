package server

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/logging"
	"github.com/nats-io/nats.go"
)

// startServer runs a server on a free loopback port for the test's lifetime.
func startServer(t testing.TB, mutate ...func(*config.Options)) *Server {
	t.Helper()
	return startServerLogged(t, nil, mutate...)
}

// startServerLogged is startServer with the server logging to log.
func startServerLogged(t testing.TB, log logging.Logger, mutate ...func(*config.Options)) *Server {
	t.Helper()
	opts := config.Options{Host: "127.0.0.1", Port: 0}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := New(opts, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// connect opens a nats.go connection that fails the test on async errors.
func connect(t testing.TB, s *Server, extra ...nats.Option) *nats.Conn {
	t.Helper()
	opts := append([]nats.Option{nats.MaxReconnects(0)}, extra...)
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// rawConn is a plain TCP client for wire-level tests: it sends bytes and
// reads lines with a deadline, so a missing reply fails instead of hanging.
type rawConn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

const rawTimeout = 5 * time.Second

// rawDialNoInfo connects without reading anything.
func rawDialNoInfo(t testing.TB, s *Server) *rawConn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawConn{t: t, conn: conn, r: bufio.NewReaderSize(conn, 1<<20)}
}

// dialRaw connects and consumes the INFO line.
func dialRaw(t testing.TB, s *Server) *rawConn {
	t.Helper()
	rc := rawDialNoInfo(t, s)
	info := rc.readLine()
	if !strings.HasPrefix(info, "INFO {") || !strings.HasSuffix(info, "} \r\n") {
		t.Fatalf("first line is not INFO: %q", info)
	}
	return rc
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := rc.conn.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write %q: %v", s, err)
	}
}

// readLine returns the next line including its CRLF.
func (rc *rawConn) readLine() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(rawTimeout))
	line, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read line (got %q): %v", line, err)
	}
	return line
}

// expect reads exactly len(want) bytes and compares them.
func (rc *rawConn) expect(want string) {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(rawTimeout))
	got := make([]byte, len(want))
	n, err := io.ReadFull(rc.r, got)
	if err != nil || string(got) != want {
		rc.t.Fatalf("expected %q, got %q (err %v)", want, got[:n], err)
	}
}

// expectClosed asserts the server closes the connection with nothing more
// to read.
func (rc *rawConn) expectClosed() {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(rawTimeout))
	b, err := rc.r.ReadByte()
	if err == nil {
		rest, _ := rc.r.Peek(rc.r.Buffered())
		rc.t.Fatalf("expected close, got more data: %q", append([]byte{b}, rest...))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		rc.t.Fatalf("expected close, connection still open")
	}
}

// roundTrip sends PING and waits for its PONG, proving that everything sent
// before was processed (the server answers in order).
func (rc *rawConn) roundTrip() {
	rc.t.Helper()
	rc.send("PING\r\n")
	rc.expect("PONG\r\n")
}

// waitFor polls cond until it holds or the deadline passes; for state that
// has no event to wait on (counters, connection counts).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const msgWait = 5 * time.Second

func nextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(msgWait)
	if err != nil {
		t.Fatalf("NextMsg on %q: %v", sub.Subject, err)
	}
	return m
}

func expectNoMsg(t *testing.T, nc *nats.Conn, sub *nats.Subscription) {
	t.Helper()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := sub.Pending(); n != 0 {
		m, _ := sub.NextMsg(0)
		t.Fatalf("unexpected message on %q: %q", sub.Subject, m.Data)
	}
}

// connectErr tries a nats.go connection that is expected to fail.
func connectErr(t *testing.T, s *Server, opts ...nats.Option) error {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
	if err == nil {
		nc.Close()
		return nil
	}
	return err
}

// pubSubWorks proves a connection is usable by a round trip to itself.
func pubSubWorks(t *testing.T, nc *nats.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("auth.check")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("auth.check", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	nextMsg(t, sub)
}

// asyncErrors collects a connection's asynchronous errors.
type asyncErrors struct {
	mu   sync.Mutex
	errs []string
	got  chan struct{}
}

func (a *asyncErrors) handler() nats.Option {
	a.got = make(chan struct{}, 16)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err.Error())
		a.mu.Unlock()
		a.got <- struct{}{}
	})
}

func (a *asyncErrors) next(t *testing.T) string {
	t.Helper()
	select {
	case <-a.got:
	case <-time.After(msgWait):
		t.Fatal("no async error")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.errs[0]
	a.errs = a.errs[1:]
	return e
}
