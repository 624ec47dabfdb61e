package route_test

import (
	"bufio"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/server"
)

// rawRoute is a hand-driven route connection, as a person with telnet
// would speak it.
type rawRoute struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRoute(t *testing.T, s *server.Server) *rawRoute {
	t.Helper()
	c, err := net.Dial("tcp", s.ClusterAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawRoute{t: t, c: c, r: bufio.NewReader(c)}
}

func (rr *rawRoute) send(s string) {
	rr.t.Helper()
	if _, err := rr.c.Write([]byte(s)); err != nil {
		rr.t.Fatal(err)
	}
}

// expect reads lines until one starts with prefix (skipping PINGs and
// other interest lines), failing after a few seconds.
func (rr *rawRoute) expect(prefix string) string {
	rr.t.Helper()
	rr.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		line, err := rr.r.ReadString('\n')
		if err != nil {
			rr.t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(line, prefix) {
			return line
		}
	}
}

func TestRouteHandshakeByHand(t *testing.T) {
	s := startNode(t, "a", nil)
	rr := dialRoute(t, s)
	line := rr.expect("INFO ")
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(line[5:])), &info); err != nil {
		t.Fatalf("INFO %q: %v", line, err)
	}
	if info["server_id"] != s.ID() || info["cluster"] != "test" || info["headers"] != true {
		t.Fatalf("route INFO %v", info)
	}
	if urls, _ := info["connect_urls"].([]any); len(urls) != 1 || urls[0] != strings.TrimPrefix(s.ClientURL(), "nats://") {
		t.Fatalf("connect_urls %v", info["connect_urls"])
	}
	rr.send("CONNECT {\"echo\":true,\"verbose\":false,\"pedantic\":false,\"tls_required\":false,\"headers\":true,\"name\":\"HANDID\",\"cluster\":\"test\"}\r\n")
	rr.send("INFO {\"server_id\":\"HANDID\",\"server_name\":\"hand\",\"host\":\"127.0.0.1\",\"port\":1,\"headers\":true,\"cluster\":\"test\"}\r\n")
	rr.send("PING\r\n")
	rr.expect("PONG")
	waitFor(t, 5*time.Second, func() bool { return s.NumRoutes() == 1 }, nil)

	// A local subscription is announced; a queue one with its weight.
	nc := connect(t, s)
	sub, _ := nc.SubscribeSync("local.>")
	q1, _ := nc.QueueSubscribeSync("jobs", "q")
	q2, _ := nc.QueueSubscribeSync("jobs", "q")
	nc.Flush()
	rr.expect("RS+ $G local.>\r\n")
	rr.expect("RS+ $G jobs q 2\r\n")

	// Our interest makes the server route messages to us.
	rr.send("RS+ $G remote.foo\r\nRS+ $G jobs q 1\r\n")
	waitFor(t, 5*time.Second, func() bool { return routeSubs(s) == 2 }, nil)
	nc.Publish("remote.foo", []byte("hi"))
	nc.Flush()
	if got := rr.expect("RMSG "); got != "RMSG $G remote.foo 2\r\n" {
		t.Fatalf("got %q", got)
	}

	// A routed message reaches the local subscriber; HMSG keeps headers.
	rr.send("RMSG $G local.x reply.to 5\r\nhello\r\n")
	m := nextMsg(t, sub)
	if string(m.Data) != "hello" || m.Reply != "reply.to" {
		t.Fatalf("got %q reply %q", m.Data, m.Reply)
	}
	hdr := "NATS/1.0\r\nK: v\r\n\r\n"
	rr.send("HMSG $G local.y " + strconv.Itoa(len(hdr)) + " " + strconv.Itoa(len(hdr)+2) + "\r\n" + hdr + "ok\r\n")
	m = nextMsg(t, sub)
	if string(m.Data) != "ok" || m.Header.Get("K") != "v" {
		t.Fatalf("got %q headers %v", m.Data, m.Header)
	}
	// A routed message without queue names does not reach queue members.
	rr.send("RMSG $G jobs 1\r\nx\r\n")
	// ... with the group named it reaches one of them.
	rr.send("RMSG $G jobs | q 1\r\ny\r\n")
	rr.send("PING\r\n")
	rr.expect("PONG")
	nc.Flush()
	waitFor(t, 5*time.Second, func() bool {
		n1, _, _ := q1.Pending()
		n2, _, _ := q2.Pending()
		return n1+n2 == 1
	}, nil)
	for _, q := range []interface {
		NextMsg(time.Duration) (*nats.Msg, error)
	}{q1, q2} {
		if m, err := q.NextMsg(50 * time.Millisecond); err == nil && string(m.Data) != "y" {
			t.Fatalf("queue member got %q, which named no queue", m.Data)
		}
	}

	// Withdrawing interest stops the messages.
	rr.send("RS- $G remote.foo\r\n")
	waitFor(t, 5*time.Second, func() bool { return routeSubs(s) == 1 }, nil)

	// A malformed line gets an error and the route is closed.
	rr.send("RMSG $G\r\n")
	rr.expect("-ERR")
	waitFor(t, 5*time.Second, func() bool { return s.NumRoutes() == 0 }, nil)
}

func TestClientOnRoutePortIsRefused(t *testing.T) {
	s := startNode(t, "a", nil)
	rr := dialRoute(t, s)
	rr.expect("INFO ")
	rr.send("CONNECT {\"lang\":\"go\",\"verbose\":false}\r\n")
	if got := rr.expect("-ERR"); !strings.Contains(got, "Route Port") {
		t.Fatalf("got %q", got)
	}
}

func TestClusterNameMismatchIsRefused(t *testing.T) {
	s := startNode(t, "a", nil)
	rr := dialRoute(t, s)
	rr.expect("INFO ")
	rr.send("CONNECT {\"name\":\"OTHER\",\"cluster\":\"elsewhere\"}\r\n")
	if got := rr.expect("-ERR"); !strings.Contains(got, "elsewhere") {
		t.Fatalf("got %q", got)
	}
}
