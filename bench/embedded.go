package bench

import (
	"context"
	"fmt"
	"os"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// EmbeddedName is how reports name the in-process server.
const EmbeddedName = "embedded midge"

// Embedded is an in-process midge with JetStream, its store in a temporary
// directory, listening on a free loopback port.
type Embedded struct {
	URL string
	srv *server.Server
	dir string
}

// StartEmbedded starts an in-process midge for a benchmark.
func StartEmbedded() (*Embedded, error) {
	return startEmbedded(config.Options{})
}

// startEmbedded starts one with opts (host, port, JetStream and store are
// set here).
func startEmbedded(opts config.Options) (*Embedded, error) {
	dir, err := os.MkdirTemp("", "midge-bench-store-")
	if err != nil {
		return nil, fmt.Errorf("embedded midge: %w", err)
	}
	opts.Host, opts.Port, opts.JetStream, opts.StoreDir = "127.0.0.1", 0, true, dir
	srv, err := server.New(opts, nil)
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("embedded midge: %w", err)
	}
	return &Embedded{URL: srv.ClientURL(), srv: srv, dir: dir}, nil
}

// Configure points cfg at the embedded server: its URL, its name in reports
// and its own count of slow consumers.
func (e *Embedded) Configure(cfg *Config) {
	cfg.URL = e.URL
	cfg.ServerName = EmbeddedName
	cfg.ServerSlowConsumers = e.SlowConsumers
}

// SlowConsumers is the server's count of clients it closed as slow consumers.
func (e *Embedded) SlowConsumers(context.Context) (int64, error) {
	return e.srv.Stats().SlowConsumers, nil
}

// Stop shuts the server down and removes its store.
func (e *Embedded) Stop() {
	e.srv.Shutdown()
	os.RemoveAll(e.dir)
}
