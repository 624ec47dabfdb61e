package bench

import (
	"fmt"
	"os"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
)

// StartEmbedded starts an in-process midge with JetStream (its store in a
// temporary directory) on a free loopback port and returns its client URL
// and a function that shuts it down and removes the store.
func StartEmbedded() (url string, stop func(), err error) {
	dir, err := os.MkdirTemp("", "midge-bench-store-")
	if err != nil {
		return "", nil, fmt.Errorf("embedded midge: %w", err)
	}
	srv, err := server.New(config.Options{Host: "127.0.0.1", Port: 0, JetStream: true, StoreDir: dir}, nil)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("embedded midge: %w", err)
	}
	if err := srv.Start(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("embedded midge: %w", err)
	}
	return srv.ClientURL(), func() { srv.Shutdown(); os.RemoveAll(dir) }, nil
}
