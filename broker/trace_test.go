package broker_test

import (
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/logging/logtest"
)

// -V traces the protocol both ways: what a client sends and what it gets.
func TestProtocolTraceBothWays(t *testing.T) {
	logs := logtest.New()
	s := testutil.StartServerLogged(t, logs, func(o *config.Options) { o.Trace = true })
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\nSUB t 1\r\nPUB t 5\r\nhello\r\n")
	rc.Expect("MSG t 1 5\r\nhello\r\n")
	rc.RoundTrip()
	var in, out bool
	for _, e := range logs.Entries() {
		if strings.HasPrefix(e.Message, "<<- PUB") && strings.Contains(e.Fields["args"].(string), "hello") {
			in = true
		}
		if e.Message == "->>" && strings.Contains(e.Fields["proto"].(string), "MSG t 1 5") {
			out = true
		}
	}
	if !in || !out {
		t.Fatalf("trace inbound %v outbound %v in %d log entries", in, out, len(logs.Entries()))
	}
}
