package websocket_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// wsServer starts a server with a plaintext WebSocket listener on a free port.
func startWSServer(t *testing.T, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	return testutil.StartServer(t, append([]func(*config.Options){func(o *config.Options) {
		o.WebSocket = config.WebSocketOptions{Host: "127.0.0.1", Port: -1, NoTLS: true}
	}}, mutate...)...)
}

func wsConnect(t *testing.T, s *server.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.WebSocketURL(), append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
	if err != nil {
		t.Fatalf("websocket connect to %s: %v", s.WebSocketURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Messages cross between WebSocket and TCP clients in both directions, and
// request/reply works across them: one subject space.
func TestWebSocketSharesSubjectsWithTCP(t *testing.T) {
	s := startWSServer(t)
	ws := wsConnect(t, s)
	tcp := testutil.Connect(t, s)

	fromWS, _ := tcp.SubscribeSync("to.tcp")
	fromTCP, _ := ws.SubscribeSync("to.ws.*")
	if err := ws.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := tcp.Flush(); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 200<<10) // spans many frames and reads
	ws.Publish("to.tcp", big)
	tcp.Publish("to.ws.a", []byte("hello ws"))
	if m := testutil.NextMsg(t, fromWS); !bytes.Equal(m.Data, big) {
		t.Fatalf("TCP got %d bytes, want %d", len(m.Data), len(big))
	}
	if m := testutil.NextMsg(t, fromTCP); string(m.Data) != "hello ws" || m.Subject != "to.ws.a" {
		t.Fatalf("WS got %q on %s", m.Data, m.Subject)
	}

	ws.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("echo "), m.Data...)) })
	ws.Flush()
	reply, err := tcp.Request("svc.echo", []byte("hi"), 2*time.Second)
	if err != nil || string(reply.Data) != "echo hi" {
		t.Fatalf("request over websocket: %v %v", err, reply)
	}
	ps := s.ProtocolStats()
	if ps.WebSocket.Connections != 1 || ps.NATS.Connections != 1 || ps.WebSocket.InMsgs < 2 || ps.NATS.InMsgs < 2 {
		t.Fatalf("protocol stats %+v", ps)
	}
}

// A raw WebSocket client sends the protocol in text and in binary
// messages, with commands split across messages; both are one stream.
func TestWebSocketTextAndBinaryFrames(t *testing.T) {
	s := startWSServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.WebSocketURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	info := wsRead(t, ctx, ws)
	if !strings.HasPrefix(info, "INFO ") || strings.Contains(info, "tls_required") {
		t.Fatalf("INFO over websocket: %q", info)
	}
	send := func(typ websocket.MessageType, s string) {
		if err := ws.Write(ctx, typ, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(websocket.MessageText, "CONNECT {\"verbose\":false}\r\nSUB a.")
	send(websocket.MessageBinary, "b 1\r\nPUB a.b 5\r\nhel")
	send(websocket.MessageText, "lo\r\nPING\r\n")
	var got string
	for !strings.Contains(got, "PONG\r\n") {
		got += wsRead(t, ctx, ws)
	}
	if !strings.Contains(got, "MSG a.b 1 5\r\nhello\r\n") {
		t.Fatalf("got %q", got)
	}
}

func wsRead(t *testing.T, ctx context.Context, ws *websocket.Conn) string {
	t.Helper()
	typ, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	if typ != websocket.MessageBinary {
		t.Fatalf("server sent a %v message", typ)
	}
	return string(b)
}

// Origins follow nats-server: same_origin compares with the request's own
// host, allowed_origins lists the others, no Origin header is not a browser.
func TestWebSocketOrigins(t *testing.T) {
	s := startWSServer(t, func(o *config.Options) {
		o.WebSocket.AllowedOrigins = []string{"https://app.example.com", "http://localhost:3000"}
	})
	dial := func(origin string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		ws, resp, err := websocket.Dial(ctx, s.WebSocketURL(), &websocket.DialOptions{HTTPHeader: h})
		if err == nil {
			ws.CloseNow()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatalf("dial %q: %v", origin, err)
		}
		return resp.StatusCode
	}
	cases := map[string]int{
		"":                            http.StatusSwitchingProtocols,
		"https://app.example.com":     http.StatusSwitchingProtocols,
		"https://APP.example.com:443": http.StatusSwitchingProtocols,
		"http://localhost:3000":       http.StatusSwitchingProtocols,
		"http://app.example.com":      http.StatusForbidden, // scheme differs
		"http://localhost:3001":       http.StatusForbidden,
		"https://evil.example":        http.StatusForbidden,
	}
	for origin, want := range cases {
		if got := dial(origin); got != want {
			t.Errorf("origin %q: status %d, want %d", origin, got, want)
		}
	}
	if n := s.ProtocolStats().WebSocketOriginRefused; n != 3 {
		t.Errorf("refused upgrades counted %d, want 3", n)
	}

	same := startWSServer(t, func(o *config.Options) { o.WebSocket.SameOrigin = true })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	host := strings.TrimPrefix(same.WebSocketURL(), "ws://")
	for origin, want := range map[string]bool{"http://" + host: true, "http://other:1": false, "https://" + host: false} {
		h := http.Header{"Origin": {origin}}
		ws, _, err := websocket.Dial(ctx, same.WebSocketURL(), &websocket.DialOptions{HTTPHeader: h})
		if (err == nil) != want {
			t.Errorf("same_origin, origin %q: err %v", origin, err)
		}
		if ws != nil {
			ws.CloseNow()
		}
	}
}

// wss:// with the listener's own certificate; the client's certificate
// maps it to a user, as verify_and_map does for TCP.
func TestWebSocketTLS(t *testing.T) {
	pki := testutil.NewPKI(t)
	verifying := func() *tls.Config {
		cfg := pki.ServerTLS()
		cfg.ClientCAs = pki.Pool
		return cfg
	}
	s := testutil.StartServer(t, func(o *config.Options) {
		o.Auth.Users = []config.User{{Username: "CN=alice"}}
		o.TLS.Map = true
		o.TLS.Config = verifying()
		o.WebSocket = config.WebSocketOptions{Host: "127.0.0.1", Port: -1, Compression: true,
			TLS: config.TLSOptions{Config: verifying(), Map: true}}
	})
	if !strings.HasPrefix(s.WebSocketURL(), "wss://") {
		t.Fatalf("URL %s", s.WebSocketURL())
	}
	alice := pki.ClientCert(t, pkix.Name{CommonName: "alice"})
	nc := wsConnect(t, s, nats.Secure(pki.ClientTLS(alice)), nats.Compression(true))
	testutil.PubSubWorks(t, nc)
	if _, err := nats.Connect(s.WebSocketURL(), nats.MaxReconnects(0), nats.Secure(pki.ClientTLS(nil))); err == nil {
		t.Fatal("connected over wss without a client certificate")
	}
}

func TestWebSocketNeedsTLSOrNoTLS(t *testing.T) {
	_, err := server.New(config.Options{WebSocket: config.WebSocketOptions{Port: -1}}, nil)
	if err == nil || !strings.Contains(err.Error(), "websocket requires TLS") {
		t.Fatalf("New: %v", err)
	}
	_, err = server.New(config.Options{WebSocket: config.WebSocketOptions{Port: -1, NoTLS: true, AllowedOrigins: []string{"ftp://x"}}}, nil)
	if err == nil {
		t.Fatal("accepted an ftp origin")
	}
}

func TestWebSocketConfigKeys(t *testing.T) {
	opts, err := config.ParseConfig(`
websocket {
  listen: "127.0.0.1:8443"
  no_tls: true
  compression: true
  same_origin: true
  allowed_origins: ["https://a.example", "http://b.example:8080"]
  handshake_timeout: "3s"
}
mqtt { port: 1884, host: 127.0.0.2, ack_wait: "10s", max_ack_pending: 100 }
`)
	if err != nil {
		t.Fatal(err)
	}
	w, m := opts.WebSocket, opts.MQTT
	got, _ := json.Marshal(w)
	if w.Host != "127.0.0.1" || w.Port != 8443 || !w.NoTLS || !w.Compression || !w.SameOrigin ||
		len(w.AllowedOrigins) != 2 || w.HandshakeTimeout != 3*time.Second {
		t.Errorf("websocket options %s", got)
	}
	if m.Port != 1884 || m.Host != "127.0.0.2" || m.AckWait != 10*time.Second || m.MaxAckPending != 100 {
		t.Errorf("mqtt options %+v", m)
	}
	if _, err := config.ParseConfig("websocket { port: 1, origins: x }"); err == nil || !strings.Contains(err.Error(), `websocket.origins: unknown configuration key`) {
		t.Errorf("unknown websocket key: %v", err)
	}
}
