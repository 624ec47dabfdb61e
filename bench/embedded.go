package bench

import (
	"fmt"

	"github.com/midgemq/midge/server"
)

// StartEmbedded starts an in-process midge on a free loopback port and
// returns its client URL and a function that shuts it down.
func StartEmbedded() (url string, stop func(), err error) {
	srv, err := server.New(server.Options{Host: "127.0.0.1", Port: 0})
	if err != nil {
		return "", nil, fmt.Errorf("embedded midge: %w", err)
	}
	if err := srv.Start(); err != nil {
		return "", nil, fmt.Errorf("embedded midge: %w", err)
	}
	return srv.ClientURL(), srv.Shutdown, nil
}
