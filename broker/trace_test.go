package broker_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/logging/logtest"
)

// -V traces the protocol both ways, line by line in the reference server's
// format: `<<- [SUB t 1]`, `<<- MSG_PAYLOAD: ["hello"]`, `->> [MSG t 1 5]`,
// `->> MSG_PAYLOAD: ["hello"]`.
func TestProtocolTraceBothWays(t *testing.T) {
	logs := logtest.New()
	s := testutil.StartServerLogged(t, logs, func(o *config.Options) { o.Trace = true })
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {\"verbose\":false}\r\nSUB t 1\r\nPUB t 5\r\nhello\r\nPING\r\n")
	rc.Expect("MSG t 1 5\r\nhello\r\nPONG\r\n")
	rc.RoundTrip()
	want := []string{
		`<<- [CONNECT {"verbose":false}]`, "<<- [SUB t 1]", "<<- [PUB t 5]", `<<- MSG_PAYLOAD: ["hello"]`,
		"<<- [PING]", "->> [MSG t 1 5]", `->> MSG_PAYLOAD: ["hello"]`, "->> [PONG]",
	}
	var got []string
	for _, e := range logs.Entries() {
		if strings.HasPrefix(e.Message, "<<- ") || strings.HasPrefix(e.Message, "->> ") {
			got = append(got, e.Message)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Fatalf("no trace line %q in %q", w, got)
		}
	}
	if slices.Contains(got, "->> [hello]") {
		t.Fatalf("a message body was traced as a control line: %q", got)
	}
}
