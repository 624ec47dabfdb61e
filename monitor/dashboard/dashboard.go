// Package dashboard holds midge's built-in monitoring page: one
// self-contained HTML file (no external scripts, styles or fonts) that
// polls the monitoring server's JSON endpoints, relative to its own URL,
// and shows live rates, connections and streams.
package dashboard

import _ "embed"

// Page is the dashboard's HTML.
//
//go:embed index.html
var Page []byte
