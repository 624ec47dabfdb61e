package jsapi_test

import (
	"strings"
	"testing"

	"github.com/midgemq/midge/internal/testutil"
)

// Message schedules, which midge lacks, are refused with a clear error
// rather than accepted and ignored. allow_batched is accepted (natscli's
// bench sets it) and echoed.
func TestUnsupportedStreamFeaturesRefused(t *testing.T) {
	s := testutil.StartJS(t)
	nc := testutil.Connect(t, s)
	for _, tc := range []struct{ field, text string }{
		{"allow_msg_schedules", "message schedules (allow_msg_schedules) are not supported by midge yet"},
	} {
		got := apiCall(t, nc, "$JS.API.STREAM.CREATE.U", `{"name":"U","subjects":["u"],"`+tc.field+`":true}`)
		if want := apiErrorJSON(500, 10052, tc.text); got != want {
			t.Fatalf("%s: %s, want %s", tc.field, got, want)
		}
	}
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.U", `{"name":"U","subjects":["u"],"allow_batched":true}`)
	m, err := nc.Request("$JS.API.STREAM.INFO.U", nil, testutil.MsgWait)
	if err != nil || !strings.Contains(string(m.Data), `"allow_batched":true`) {
		t.Fatalf("info %s %v", m.Data, err)
	}
	if got := apiCall(t, nc, "$JS.API.STREAM.UPDATE.U", `{"name":"U","subjects":["u"],"allow_msg_schedules":true}`); got == "" {
		t.Fatal("update turned on message schedules")
	}
}
