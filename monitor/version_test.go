package monitor_test

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// midge advertises the reference release whose JetStream features it has
// (2.14.0) in INFO and /varz, and its API level (2) in /jsz and in the
// metadata of streams; clients gate features on these.
func TestAdvertisedVersion(t *testing.T) {
	s := testutil.StartJS(t, testutil.WithMonitor)
	nc, js := testutil.JSClient(t, s)
	if v := nc.ConnectedServerVersion(); v != "2.14.0" {
		t.Fatalf("INFO version %q", v)
	}
	conn, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	info, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(info, `"version":"2.14.0"`) {
		t.Fatalf("INFO line %q: %v", info, err)
	}
	varz := testutil.GetJSON[struct {
		Version string `json:"version"`
	}](t, s, "/varz")
	if varz.Version != "2.14.0" {
		t.Fatalf("/varz version %q", varz.Version)
	}
	jsz := testutil.GetJSON[struct {
		API struct {
			Level int `json:"level"`
		} `json:"api"`
	}](t, s, "/jsz")
	if jsz.API.Level != 2 {
		t.Fatalf("/jsz api level %d", jsz.API.Level)
	}
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "V", Subjects: []string{"v"}, AllowMsgCounter: true})
	md := st.CachedInfo().Config.Metadata
	if md["_nats.ver"] != "2.14.0" || md["_nats.level"] != "2" || md["_nats.req.level"] != "2" {
		t.Fatalf("stream metadata %v", md)
	}
}
