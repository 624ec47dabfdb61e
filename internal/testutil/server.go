package testutil

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/logging"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// startServer runs a server on a free loopback port for the test's lifetime.
func StartServer(t testing.TB, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	return StartServerLogged(t, nil, mutate...)
}

// startServerLogged is startServer with the server logging to log.
func StartServerLogged(t testing.TB, log logging.Logger, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	opts := config.Options{Host: "127.0.0.1", Port: 0}
	for _, m := range mutate {
		m(&opts)
	}
	s, err := server.New(opts, log)
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
func Connect(t testing.TB, s *server.Server, extra ...nats.Option) *nats.Conn {
	t.Helper()
	opts := append([]nats.Option{nats.MaxReconnects(0)}, extra...)
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// RawConn is a plain TCP client for wire-level tests: it sends bytes and
// reads lines with a deadline, so a missing reply fails instead of hanging.
type RawConn struct {
	t      testing.TB
	Conn   net.Conn
	Reader *bufio.Reader
}

const RawTimeout = 5 * time.Second

// rawDialNoInfo connects without reading anything.
func DialRawNoInfo(t testing.TB, s *server.Server) *RawConn {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &RawConn{t: t, Conn: conn, Reader: bufio.NewReaderSize(conn, 1<<20)}
}

// dialRaw connects and consumes the INFO line.
func DialRaw(t testing.TB, s *server.Server) *RawConn {
	t.Helper()
	rc := DialRawNoInfo(t, s)
	info := rc.ReadLine()
	if !strings.HasPrefix(info, "INFO {") || !strings.HasSuffix(info, "} \r\n") {
		t.Fatalf("first line is not INFO: %q", info)
	}
	return rc
}

func (rc *RawConn) Send(s string) {
	rc.t.Helper()
	if _, err := rc.Conn.Write([]byte(s)); err != nil {
		rc.t.Fatalf("write %q: %v", s, err)
	}
}

// readLine returns the next line including its CRLF.
func (rc *RawConn) ReadLine() string {
	rc.t.Helper()
	_ = rc.Conn.SetReadDeadline(time.Now().Add(RawTimeout))
	line, err := rc.Reader.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read line (got %q): %v", line, err)
	}
	return line
}

// expect reads exactly len(want) bytes and compares them.
func (rc *RawConn) Expect(want string) {
	rc.t.Helper()
	_ = rc.Conn.SetReadDeadline(time.Now().Add(RawTimeout))
	got := make([]byte, len(want))
	n, err := io.ReadFull(rc.Reader, got)
	if err != nil || string(got) != want {
		rc.t.Fatalf("expected %q, got %q (err %v)", want, got[:n], err)
	}
}

// expectClosed asserts the server closes the connection with nothing more
// to read.
func (rc *RawConn) ExpectClosed() {
	rc.t.Helper()
	_ = rc.Conn.SetReadDeadline(time.Now().Add(RawTimeout))
	b, err := rc.Reader.ReadByte()
	if err == nil {
		rest, _ := rc.Reader.Peek(rc.Reader.Buffered())
		rc.t.Fatalf("expected close, got more data: %q", append([]byte{b}, rest...))
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		rc.t.Fatalf("expected close, connection still open")
	}
}

// roundTrip sends PING and waits for its PONG, proving that everything sent
// before was processed (the server answers in order).
func (rc *RawConn) RoundTrip() {
	rc.t.Helper()
	rc.Send("PING\r\n")
	rc.Expect("PONG\r\n")
}

// waitFor polls cond until it holds or the deadline passes; for state that
// has no event to wait on (counters, connection counts).
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

const MsgWait = 5 * time.Second

func NextMsg(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(MsgWait)
	if err != nil {
		t.Fatalf("NextMsg on %q: %v", sub.Subject, err)
	}
	return m
}

func ExpectNoMsg(t *testing.T, nc *nats.Conn, sub *nats.Subscription) {
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
func ConnectErr(t *testing.T, s *server.Server, opts ...nats.Option) error {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
	if err == nil {
		nc.Close()
		return nil
	}
	return err
}

// pubSubWorks proves a connection is usable by a round trip to itself.
func PubSubWorks(t *testing.T, nc *nats.Conn) {
	t.Helper()
	sub, err := nc.SubscribeSync("auth.check")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("auth.check", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	NextMsg(t, sub)
}

// rawInfo reads and decodes the INFO a new raw connection gets.
func RawInfo(t *testing.T, s *server.Server) map[string]any {
	t.Helper()
	rc := DialRawNoInfo(t, s)
	line := rc.ReadLine()
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(line, "INFO "), " \r\n")), &info); err != nil {
		t.Fatalf("INFO %q: %v", line, err)
	}
	return info
}

// RawMsg is one MSG or HMSG as a raw connection received it.
type RawMsg struct {
	Subject, Reply string
	Header, Data   string
}

// ReadMsg reads the next MSG or HMSG, answering the server's PINGs.
func (rc *RawConn) ReadMsg() RawMsg {
	rc.t.Helper()
	for {
		line := strings.TrimSuffix(rc.ReadLine(), "\r\n")
		if line == "PING" {
			rc.Send("PONG\r\n")
			continue
		}
		f := strings.Fields(line)
		var m RawMsg
		var hdrLen, total int
		switch {
		case len(f) >= 4 && f[0] == "MSG":
			m.Subject = f[1]
			if len(f) == 5 {
				m.Reply = f[3]
			}
			total, _ = strconv.Atoi(f[len(f)-1])
		case len(f) >= 5 && f[0] == "HMSG":
			m.Subject = f[1]
			if len(f) == 6 {
				m.Reply = f[3]
			}
			hdrLen, _ = strconv.Atoi(f[len(f)-2])
			total, _ = strconv.Atoi(f[len(f)-1])
		default:
			rc.t.Fatalf("expected a message, got %q", line)
		}
		buf := make([]byte, total+2)
		_ = rc.Conn.SetReadDeadline(time.Now().Add(RawTimeout))
		if _, err := io.ReadFull(rc.Reader, buf); err != nil {
			rc.t.Fatalf("reading message body: %v", err)
		}
		m.Header, m.Data = string(buf[:hdrLen]), string(buf[hdrLen:total])
		return m
	}
}
