package broker_test

import (
	"bufio"
	"bytes"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// A hostile-client suite over raw TCP: whatever a client sends, the server
// answers as the reference server would (or closes), stays up, keeps its
// memory bounded and keeps serving everyone else.

// healthCheck proves the server still serves a well-behaved client.
func healthCheck(t *testing.T, nc *nats.Conn) {
	t.Helper()
	if !nc.IsConnected() {
		t.Fatal("the well-behaved client lost its connection")
	}
	testutil.PubSubWorks(t, nc)
}

func TestHostileInputs(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPayload = 1 << 16 })
	healthy := testutil.Connect(t, s)
	const unknownOp = "-ERR 'Unknown Protocol Operation'\r\n"
	for _, tc := range []struct {
		name, in string
		reply    string // the whole answer before the close; "" for a silent close
	}{
		{"unknown op", "FOO bar\r\n", unknownOp},
		{"op without arguments", "PUB\r\n", unknownOp},
		{"binary garbage", "\x00\xff\x16\x03\x01\r\n", unknownOp},
		{"server op from a client", "MSG foo 1 1\r\nx\r\n", unknownOp},
		{"payload longer than declared", "PUB foo 2\r\nabcdef\r\n", unknownOp},
		{"payload not followed by CRLF", "PUB foo 5\r\nhelloXX", unknownOp},
		{"negative size", "PUB foo -1\r\n", ""},
		{"overflowing size", "PUB foo 99999999999999999999999\r\n", ""},
		{"size over max payload", "PUB foo 65537\r\n", "-ERR 'Maximum Payload Violation'\r\n"},
		{"header size over total", "HPUB foo 10 5\r\n", ""},
		{"negative header size", "HPUB foo -1 5\r\n", ""},
		{"HPUB without headers negotiated", "HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", ""},
		{"too many SUB arguments", "SUB foo q 1 2\r\n", ""},
		{"SUB without sid", "SUB foo\r\n", ""},
		{"UNSUB without sid", "UNSUB\r\n", unknownOp},
		{"negative UNSUB max", "UNSUB 1 -5\r\n", ""},
		{"overflowing UNSUB max", "UNSUB 1 99999999999999999999\r\n", ""},
		{"CONNECT with broken JSON", "CONNECT {\"verbose\":\r\n", ""},
		{"CONNECT with an overflowing number", "CONNECT {\"protocol\":1e400}\r\n", ""},
		{"CONNECT with a bad protocol", "CONNECT {\"protocol\":-1}\r\n", "-ERR 'invalid client protocol'\r\n"},
		{"CONNECT too long", "CONNECT {\"name\":\"" + strings.Repeat("n", 5000) + "\"}\r\n", "-ERR 'maximum control line exceeded'\r\n"},
		{"endless garbage line", strings.Repeat("x", 10000), unknownOp},
		{"endless SUB line", "SUB " + strings.Repeat("x", 10000), "-ERR 'maximum control line exceeded'\r\n"},
		{"client -ERR", "-ERR 'boom'\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := testutil.DialRaw(t, s)
			rc.Send(tc.in)
			if tc.reply != "" {
				rc.Expect(tc.reply)
			}
			rc.ExpectClosed()
		})
	}
	healthCheck(t, healthy)
	testutil.WaitFor(t, "hostile clients gone", func() bool { return s.NumClients() == 1 })
}

// Inputs that are odd but legal keep the connection.
func TestOddButLegalInputs(t *testing.T) {
	s := testutil.StartServer(t)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false,\"unknown_field\":[1,{\"x\":null}]}\r\n" +
		"\r\n\r\n+OK\r\nsub\tfoo   1\r\nPUB foo 0\r\n\r\nUNSUB 42\r\nSUB foo..bar 2\r\n")
	rc.Expect("MSG foo 1 0\r\n\r\n-ERR 'Invalid Subject'\r\n")
	rc.RoundTrip()
}

// A client that declares a payload, sends part of it (or half a line) and
// goes silent holds only its own connection, until the pings find it dead.
func TestHalfSentThenSilence(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.PingInterval = 50 * time.Millisecond
		o.FirstPingDelay = 50 * time.Millisecond
	})
	healthy := testutil.Connect(t, s)
	for _, partial := range []string{"PUB foo 100\r\nabc", "SUB fo", "CONNECT {\"verb"} {
		rc := testutil.DialRaw(t, s)
		rc.Send(partial)
		rc.Expect("PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
		rc.ExpectClosed()
	}
	healthCheck(t, healthy)
}

// A flood of connections beyond max_connections is refused with the
// reference server's error; the server keeps serving and recovers fully.
func TestConnectFlood(t *testing.T) {
	const limit, flood = 20, 100
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxConnections = limit })
	healthy := testutil.Connect(t, s)

	var wg sync.WaitGroup
	var mu sync.Mutex
	refused, served := 0, 0
	conns := make(chan net.Conn, flood)
	for i := 0; i < flood; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				return // the backlog overflowed: also a refusal
			}
			conns <- conn
			_ = conn.SetReadDeadline(time.Now().Add(testutil.RawTimeout))
			// INFO comes first either way; a refusal follows it with the
			// error and the close, a served client hears nothing more.
			r := bufio.NewReader(conn)
			info, _ := r.ReadString('\n')
			_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			next, _ := r.ReadString('\n')
			mu.Lock()
			defer mu.Unlock()
			switch {
			case next == "-ERR 'maximum connections exceeded'\r\n":
				refused++
			case strings.HasPrefix(info, "INFO ") && next == "":
				served++
			}
		}()
	}
	wg.Wait()
	close(conns)
	if served > limit-1 || refused < flood-limit {
		t.Fatalf("served %d, refused %d of %d with a limit of %d (one taken)", served, refused, flood, limit)
	}
	healthCheck(t, healthy)
	for c := range conns {
		c.Close()
	}
	testutil.WaitFor(t, "flood connections gone", func() bool { return s.NumClients() == 1 })
	if got := s.Stats().Violations.MaxConnections; got < int64(refused) {
		t.Fatalf("max connections violations = %d, refused %d", got, refused)
	}
}

// A client that floods PINGs but never reads its PONGs is cut off once its
// pending replies pass max_pending; nobody else notices.
func TestClientThatNeverReads(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPending = 64 << 10 })
	healthy := testutil.Connect(t, s)
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\n")
	pings := []byte(strings.Repeat("PING\r\n", 10000))
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().SlowConsumers == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that never reads was never cut off")
		}
		_ = rc.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := rc.Conn.Write(pings); err != nil {
			break // closed by the server
		}
	}
	testutil.WaitFor(t, "slow consumer counted", func() bool { return s.Stats().SlowConsumers == 1 })
	testutil.WaitFor(t, "non-reader gone", func() bool { return s.NumClients() == 1 })
	healthCheck(t, healthy)
}

// Clients that each hold a nearly complete max-size payload cost the
// server about that much memory each, and it is returned when they go.
func TestMemoryBoundedByLimits(t *testing.T) {
	const clients, maxPayload = 16, 1 << 20
	s := testutil.StartServer(t, func(o *config.Options) { o.MaxPayload = maxPayload })
	healthy := testutil.Connect(t, s)
	before := heapInUse()
	half := bytes.Repeat([]byte("z"), maxPayload/2)
	var conns []*testutil.RawConn
	for i := 0; i < clients; i++ {
		rc := testutil.DialRaw(t, s)
		rc.Send("PUB big 1048576\r\n")
		rc.Send(string(half))
		conns = append(conns, rc)
	}
	// Wait until the server holds the partial payloads, then bound what
	// they cost.
	var grown int64
	testutil.WaitFor(t, "partial payloads buffered", func() bool {
		grown = int64(heapInUse()) - int64(before)
		return grown >= clients*maxPayload/2
	})
	if bound := int64(3 * clients * maxPayload); grown > bound {
		t.Fatalf("heap grew %d MiB for %d partial payloads (bound %d MiB)", grown>>20, clients, bound>>20)
	}
	healthCheck(t, healthy)
	for _, rc := range conns {
		rc.Conn.Close()
	}
	testutil.WaitFor(t, "partial publishers gone", func() bool { return s.NumClients() == 1 })
	healthCheck(t, healthy)
}

// heapInUse is the heap in use once garbage and pooled memory are gone:
// the first collection moves what sync.Pools hold (outbound chunks left by
// earlier tests) to their victim caches, the second frees it.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
