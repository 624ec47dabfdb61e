package testutil

import (
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// Peer is one server a comparison test runs against: midge in process, or
// the reference server as a child process.
type Peer struct {
	// Name is "midge" or "reference".
	Name string
	// URL is the client URL.
	URL string
	// Midge is the in-process server (nil for the reference).
	Midge *server.Server
	// Ref is the reference server (nil for midge).
	Ref *testtools.Reference

	restartMidge func() *server.Server
}

// Restart stops the server cleanly and starts it again on the same port
// and store directory; clients that reconnect find it where it was.
func (p *Peer) Restart(t testing.TB) {
	t.Helper()
	if p.Ref != nil {
		p.Ref.Restart()
		p.URL = p.Ref.URL
		return
	}
	p.Midge = p.restartMidge()
	p.URL = p.Midge.ClientURL()
}

// IsReference reports whether the peer is the reference server.
func (p *Peer) IsReference() bool { return p.Ref != nil }

// Connect opens a nats.go connection to the peer, closed when the test ends.
func (p *Peer) Connect(t testing.TB, extra ...nats.Option) *nats.Conn {
	t.Helper()
	opts := append([]nats.Option{nats.MaxReconnects(0)}, extra...)
	nc, err := nats.Connect(p.URL, opts...)
	if err != nil {
		t.Fatalf("connect to %s: %v", p.Name, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// OnBoth runs fn as two subtests with the same assertions: "midge" against
// an in-process server (JetStream on when jetStream is set), and
// "reference" against the reference server, skipped when it is not
// installed. The reference run is what keeps the expectations honest: an
// expectation the reference does not meet fails there.
func OnBoth(t *testing.T, jetStream bool, fn func(t *testing.T, p *Peer)) {
	t.Helper()
	t.Run("midge", func(t *testing.T) {
		dir := t.TempDir()
		port := 0
		opts := func(o *config.Options) {
			o.Port = port
			if jetStream {
				o.JetStream, o.StoreDir = true, dir
			}
		}
		s := StartServer(t, opts)
		port = s.Addr().Port
		p := &Peer{Name: "midge", URL: s.ClientURL(), Midge: s}
		p.restartMidge = func() *server.Server {
			p.Midge.Shutdown()
			return StartServer(t, opts)
		}
		fn(t, p)
	})
	t.Run("reference", func(t *testing.T) {
		var args []string
		if jetStream {
			args = append(args, "-js")
		}
		r := testtools.StartReference(t, args...)
		fn(t, &Peer{Name: "reference", URL: r.URL, Ref: r})
	})
}
