package jsapi_test

import (
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Counter streams (allow_msg_counter), as the reference server behaves.

func incr(t *testing.T, nc *nats.Conn, subject, by, data string) string {
	t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(data)
	if by != "-" {
		m.Header.Set("Nats-Incr", by)
	}
	r, err := nc.RequestMsg(m, testutil.MsgWait)
	if err != nil {
		t.Fatal(err)
	}
	return string(r.Data)
}

func TestCounters(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	nc, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "CNT", Subjects: []string{"cnt.>"}, AllowMsgCounter: true})
	_, err := js.CreateStream(c, jetstream.StreamConfig{Name: "C2", Subjects: []string{"c2"}, AllowMsgCounter: true, Discard: jetstream.DiscardNew})
	testutil.WantAPIError(t, err, 10052)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "PLAIN", Subjects: []string{"plain"}})
	for _, tc := range []struct{ subject, by, data, want string }{
		{"cnt.a", "1", "", `{"stream":"CNT","seq":1,"val":"1"}`},
		{"cnt.a", "+5", "", `{"stream":"CNT","seq":2,"val":"6"}`},
		{"cnt.a", "-2", "", `{"stream":"CNT","seq":3,"val":"4"}`},
		{"cnt.a", "100000000000000000000000000000", "", `{"stream":"CNT","seq":4,"val":"100000000000000000000000000004"}`},
		{"cnt.b", "abc", "", `{"stream":"CNT","seq":0,"error":` + apiErrorJSON(400, 10171, "message counter increment is invalid") + `}`},
		{"cnt.b", "-", "", `{"stream":"CNT","seq":0,"error":` + apiErrorJSON(400, 10169, "message counter increment is missing") + `}`},
		{"cnt.b", "", "", `{"stream":"CNT","seq":0,"error":` + apiErrorJSON(400, 10169, "message counter increment is missing") + `}`},
		{"cnt.b", "1", "payload", `{"stream":"CNT","seq":0,"error":` + apiErrorJSON(400, 10170, "message counter has payload") + `}`},
		{"plain", "1", "", `{"stream":"PLAIN","seq":0,"error":` + apiErrorJSON(400, 10168, "message counters is disabled") + `}`},
	} {
		if got := incr(t, nc, tc.subject, tc.by, tc.data); got != tc.want {
			t.Errorf("%s %q:\n got %s\nwant %s", tc.subject, tc.by, got, tc.want)
		}
	}
	m, _ := st.GetLastMsgForSubject(c, "cnt.a")
	if string(m.Data) != `{"val":"100000000000000000000000000004"}` || m.Header.Get("Nats-Incr") != "100000000000000000000000000000" {
		t.Fatalf("stored %q %v", m.Data, m.Header)
	}
	s.Shutdown()

	// The total is read back from the stored messages after a restart.
	s2 := testutil.StartServer(t, opts)
	nc2, _ := testutil.JSClient(t, s2)
	if got := incr(t, nc2, "cnt.a", "-4", ""); got != `{"stream":"CNT","seq":5,"val":"100000000000000000000000000000"}` {
		t.Fatalf("after restart: %s", got)
	}
}
