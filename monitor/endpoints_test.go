package monitor_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// The monitoring endpoints, read over real HTTP after real traffic.

func TestVarzFiguresMoveExactly(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	pub := testutil.Connect(t, s, nats.Name("pub"))
	subConn := testutil.Connect(t, s, nats.Name("sub"))
	sub, err := subConn.SubscribeSync("metrics.>")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subConn.QueueSubscribeSync("metrics.q", "workers"); err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, subConn)

	before := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath)
	const n = 17
	bytes := testutil.PublishN(t, pub, "metrics.a", n)
	testutil.ReceiveN(t, sub, n)
	testutil.Flush(t, subConn) // the receiver's writer has flushed every message
	after := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath)

	checks := []struct {
		name      string
		got, want int64
	}{
		{"in_msgs", after.InMsgs - before.InMsgs, n},
		{"in_bytes", after.InBytes - before.InBytes, bytes},
		{"out_msgs", after.OutMsgs - before.OutMsgs, n},
		{"out_bytes", after.OutBytes - before.OutBytes, bytes},
		{"in_client_msgs", after.InClientMsgs - before.InClientMsgs, n},
		{"out_client_bytes", after.OutClientBytes - before.OutClientBytes, bytes},
		{"connections", int64(after.Connections), 2},
		{"total_connections", int64(after.TotalConnections), 2},
		{"subscriptions", int64(after.Subscriptions), 2},
		{"slow_consumers", after.SlowConsumers, 0},
		{"http_req_stats[/varz]", int64(after.HTTPReqStats[monitor.VarzPath]), 2},
		{"port", int64(after.Port), int64(s.Addr().Port)},
		{"http_port", int64(after.HTTPPort), int64(s.MonitorAddr().Port)},
		{"max_payload", int64(after.MaxPayload), config.DefaultMaxPayload},
		{"ping_interval", int64(after.PingInterval), int64(config.DefaultPingInterval)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s moved by %d, want %d", c.name, c.got, c.want)
		}
	}
	if after.ID != s.ID() || after.Version != broker.ProtocolVersion || after.MidgeVersion != broker.Version {
		t.Errorf("identity: %q %q %q", after.ID, after.Version, after.MidgeVersion)
	}
	if after.Mem <= 0 || after.Cores <= 0 || !after.Now.After(after.Start) {
		t.Errorf("process figures: mem %d cores %d start %v now %v", after.Mem, after.Cores, after.Start, after.Now)
	}
	if after.JetStream.Config != nil {
		t.Errorf("jetstream section without JetStream: %+v", after.JetStream)
	}

	// A closed connection's figures stay in the totals.
	pub.Close()
	testutil.WaitFor(t, "publisher gone", func() bool { return s.NumClients() == 1 })
	final := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath)
	if final.InMsgs != after.InMsgs || final.Connections != 1 || final.TotalConnections != 2 {
		t.Errorf("after close: in_msgs %d (was %d), connections %d, total %d",
			final.InMsgs, after.InMsgs, final.Connections, final.TotalConnections)
	}
}

// connzClients connects three named clients that publish and subscribe
// different amounts, so that every sort order is decided.
func connzClients(t *testing.T, s *server.Server) (alpha, beta, gamma *nats.Conn) {
	t.Helper()
	alpha = testutil.Connect(t, s, nats.Name("alpha"))
	beta = testutil.Connect(t, s, nats.Name("beta"))
	gamma = testutil.Connect(t, s, nats.Name("gamma"))
	for i, subject := range []string{"g.1", "g.2", "g.*"} {
		if _, err := gamma.SubscribeSync(subject); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := beta.QueueSubscribeSync("b.q", "workers"); err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, gamma)
	testutil.Flush(t, beta)
	testutil.PublishN(t, beta, "g.1", 3) // gamma receives each twice (g.1 and g.*)
	testutil.PublishN(t, gamma, "nowhere", 2)
	testutil.PublishN(t, alpha, "nowhere", 1)
	return alpha, beta, gamma
}

func cids(conns []*broker.ConnInfo) []uint64 {
	out := make([]uint64, len(conns))
	for i, c := range conns {
		out[i] = c.Cid
	}
	return out
}

func sameCids(got []*broker.ConnInfo, want ...*nats.Conn) bool {
	if len(got) != len(want) {
		return false
	}
	for i, nc := range want {
		id, _ := nc.GetClientID()
		if got[i].Cid != id {
			return false
		}
	}
	return true
}

func TestConnzDescribesConnections(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	alpha, beta, gamma := connzClients(t, s)
	// gamma's writer flushed its 6 deliveries once this round trip is back.
	testutil.Flush(t, gamma)

	cz := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath)
	if cz.NumConns != 3 || cz.Total != 3 || cz.Limit != monitor.DefaultConnListSize || cz.ID != s.ID() {
		t.Fatalf("connz header: %+v", cz)
	}
	if !sameCids(cz.Conns, alpha, beta, gamma) {
		t.Fatalf("default order (cid): %v", cids(cz.Conns))
	}
	g := cz.Conns[2]
	if g.Name != "gamma" || g.Lang != "go" || g.Version != nats.Version || g.IP != "127.0.0.1" ||
		g.Port == 0 || g.Kind != "Client" || g.Type != "nats" {
		t.Errorf("gamma identity: %+v", g)
	}
	if g.NumSubs != 3 || g.InMsgs != 2 || g.InBytes != 1+2 || g.OutMsgs != 6 || g.OutBytes != 2*(1+2+3) {
		t.Errorf("gamma figures: subs %d in %d/%dB out %d/%dB", g.NumSubs, g.InMsgs, g.InBytes, g.OutMsgs, g.OutBytes)
	}
	if b := cz.Conns[1]; b.InMsgs != 3 || b.InBytes != 6 || b.OutMsgs != 0 || b.NumSubs != 1 {
		t.Errorf("beta figures: %+v", b)
	}
	if g.RTT == "" || g.Uptime == "" || g.Start.IsZero() || g.LastActivity.Before(g.Start) || g.Subs != nil {
		t.Errorf("gamma times: %+v", g)
	}

	for _, tc := range []struct {
		query string
		want  []*nats.Conn
	}{
		{"sort=msgs_from", []*nats.Conn{beta, gamma, alpha}},
		{"sort=bytes_from", []*nats.Conn{beta, gamma, alpha}},
		{"sort=msgs_to", []*nats.Conn{gamma, alpha, beta}}, // ties (0) by cid
		{"sort=bytes_to", []*nats.Conn{gamma, alpha, beta}},
		{"sort=subs", []*nats.Conn{gamma, beta, alpha}},
		{"sort=start", []*nats.Conn{alpha, beta, gamma}},
		{"sort=uptime", []*nats.Conn{gamma, beta, alpha}},
		{"sort=cid&offset=1&limit=1", []*nats.Conn{beta}},
		{"offset=5", nil},
	} {
		got := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?"+tc.query)
		if !sameCids(got.Conns, tc.want...) || got.Total != 3 || got.NumConns != len(tc.want) {
			t.Errorf("%s: cids %v, total %d, num %d", tc.query, cids(got.Conns), got.Total, got.NumConns)
		}
	}

	// Activity order depends on when each writer flushed, so check that
	// the answers are ordered by the times they report.
	byLast := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?sort=last").Conns
	byIdle := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?sort=idle").Conns
	for i := 1; i < len(byLast); i++ {
		if byLast[i].LastActivity.After(byLast[i-1].LastActivity) || byIdle[i].LastActivity.Before(byIdle[i-1].LastActivity) {
			t.Fatalf("sort=last %v / sort=idle %v not ordered by last activity", cids(byLast), cids(byIdle))
		}
	}

	gid, _ := gamma.GetClientID()
	one := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?subs=1&cid="+uitoa(gid))
	if len(one.Conns) != 1 || strings.Join(one.Conns[0].Subs, " ") != "g.1 g.2 g.*" {
		t.Fatalf("subs=1&cid: %+v", one.Conns)
	}
	detail := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?subs=detail&cid="+uitoa(gid)).Conns[0].SubsDetail
	if len(detail) != 3 || detail[0].Sid != "1" || detail[0].Msgs != 3 || detail[2].Subject != "g.*" ||
		detail[2].Msgs != 3 || detail[1].Msgs != 0 || detail[0].Cid != gid {
		t.Fatalf("subs=detail: %+v", detail)
	}
}

func uitoa(n uint64) string { return strconv.FormatUint(n, 10) }

func TestConnzLastActivity(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	nc := testutil.Connect(t, s)
	id, _ := nc.GetClientID()
	path := monitor.ConnzPath + "?cid=" + uitoa(id)
	// CONNECT and PINGs are not activity; messages and subscriptions are.
	if c := testutil.GetJSON[monitor.Connz](t, s, path).Conns[0]; !c.LastActivity.Equal(c.Start) {
		t.Fatalf("idle connection: last activity %v, start %v", c.LastActivity, c.Start)
	}
	// The reader marks activity after it processed a whole read, which may
	// be after the flush's PONG went out: poll.
	lastActivity := func() time.Time { return testutil.GetJSON[monitor.Connz](t, s, path).Conns[0].LastActivity }
	start := testutil.GetJSON[monitor.Connz](t, s, path).Conns[0].Start
	testutil.PublishN(t, nc, "activity", 1)
	testutil.WaitFor(t, "publishing counted as activity", func() bool { return lastActivity().After(start) })
	published := lastActivity()
	if _, err := nc.SubscribeSync("activity"); err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, nc)
	testutil.WaitFor(t, "subscribing counted as activity", func() bool { return lastActivity().After(published) })
}

func TestConnzClosedConnections(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) { o.MaxClosedClients = 2 })
	keep := testutil.Connect(t, s, nats.Name("keep"))
	var gone []uint64
	for _, name := range []string{"first", "second", "third"} {
		nc := testutil.Connect(t, s, nats.Name(name))
		if _, err := nc.SubscribeSync("closed." + name); err != nil {
			t.Fatal(err)
		}
		testutil.PublishN(t, nc, "closed.x", 2)
		id, _ := nc.GetClientID()
		gone = append(gone, id)
		nc.Close()
		testutil.WaitFor(t, name+" remembered as closed", func() bool {
			cz := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?state=closed&cid="+uitoa(id))
			return len(cz.Conns) == 1
		})
	}

	// Only the two most recent are remembered (MaxClosedClients).
	closed := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?state=closed&subs=1")
	if closed.Total != 2 || len(closed.Conns) != 2 || closed.Conns[0].Cid != gone[1] || closed.Conns[1].Cid != gone[2] {
		t.Fatalf("closed: total %d cids %v, want %v", closed.Total, cids(closed.Conns), gone[1:])
	}
	c := closed.Conns[1]
	if c.Name != "third" || c.Reason != "Client Closed" || c.Stop == nil || c.Stop.Before(c.Start) ||
		c.InMsgs != 2 || c.InBytes != 3 || c.NumSubs != 1 || len(c.Subs) != 1 || c.Subs[0] != "closed.third" {
		t.Fatalf("closed connection: %+v", c)
	}
	// The list asked for with subs=1 is not kept on the remembered entry.
	if plain := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?state=closed"); plain.Conns[1].Subs != nil {
		t.Fatalf("subscriptions leaked into a later answer: %+v", plain.Conns[1])
	}
	all := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?state=all")
	keepID, _ := keep.GetClientID()
	if all.Total != 3 || all.Conns[0].Cid != keepID {
		t.Fatalf("state=all: total %d cids %v", all.Total, cids(all.Conns))
	}
	byStop := testutil.GetJSON[monitor.Connz](t, s, monitor.ConnzPath+"?state=closed&sort=stop")
	if byStop.Conns[0].Cid != gone[2] {
		t.Fatalf("sort=stop: %v", cids(byStop.Conns))
	}
}

func TestConnzRejectsBadParameters(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	testutil.WantBadRequest(t, s, monitor.ConnzPath+"?sort=bogus", "invalid sorting option: bogus")
	testutil.WantBadRequest(t, s, monitor.ConnzPath+"?sort=stop", "only valid on closed connections")
	testutil.WantBadRequest(t, s, monitor.ConnzPath+"?state=sideways", "Error decoding state")
	testutil.WantBadRequest(t, s, monitor.ConnzPath+"?limit=ten", "Error decoding int for 'limit'")
	testutil.WantBadRequest(t, s, monitor.ConnzPath+"?cid=-1", "Error decoding uint64 for 'cid'")
	testutil.WantBadRequest(t, s, monitor.ConnzPath+"?subs=maybe", "Error decoding boolean for 'subs'")
}

func TestSubsz(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	nc := testutil.Connect(t, s)
	var last *nats.Subscription
	for _, sub := range []struct{ subject, queue string }{{"a.*", ""}, {"a.b", ""}, {"c", "q"}, {"gone", ""}} {
		var err error
		if last, err = nc.QueueSubscribeSync(sub.subject, sub.queue); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish("a.b", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := last.Unsubscribe(); err != nil { // a removal to count
		t.Fatal(err)
	}
	testutil.Flush(t, nc)

	sz := testutil.GetJSON[monitor.Subsz](t, s, monitor.SubszPath)
	if sz.NumSubs != 3 || sz.NumInserts != 4 || sz.NumRemoves != 1 || sz.Total != 0 || sz.Subs != nil {
		t.Fatalf("subsz: %+v %+v", sz, sz.SublistStats)
	}
	if sz.MaxFanout != 2 || sz.NumCache == 0 {
		t.Fatalf("fan-out after a.b reached a.* and a.b: max %d, cache %d", sz.MaxFanout, sz.NumCache)
	}
	list := testutil.GetJSON[monitor.Subsz](t, s, monitor.SubszPath+"?subs=1")
	if list.Total != 3 || len(list.Subs) != 3 || list.Subs[0].Account != broker.GlobalAccountName {
		t.Fatalf("subs=1: %+v", list.Subs)
	}
	matched := testutil.GetJSON[monitor.Subsz](t, s, monitor.SubszPath+"?subs=1&test=a.b")
	if matched.Total != 2 || matched.Subs[0].Subject != "a.*" || matched.Subs[0].Msgs != 1 || matched.Subs[1].Subject != "a.b" {
		t.Fatalf("test=a.b: %+v", matched.Subs)
	}
	queue := testutil.GetJSON[monitor.Subsz](t, s, monitor.SubszPath+"?subs=1&test=c")
	if queue.Total != 1 || queue.Subs[0].Queue != "q" {
		t.Fatalf("test=c: %+v", queue.Subs)
	}
	paged := testutil.GetJSON[monitor.Subsz](t, s, monitor.SubszPath+"?subs=1&offset=2&limit=5")
	if paged.Total != 3 || len(paged.Subs) != 1 || paged.Subs[0].Subject != "c" {
		t.Fatalf("offset=2: %+v", paged.Subs)
	}
	testutil.WantBadRequest(t, s, monitor.SubszPath+"?subs=1&test=a.*", "invalid test subject")
}

func TestAccountz(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	nc := testutil.Connect(t, s)
	testutil.Connect(t, s)
	if _, err := nc.SubscribeSync("acc.x"); err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, nc)
	az := testutil.GetJSON[monitor.Accountz](t, s, monitor.AccountzPath)
	if len(az.Accounts) != 1 || az.Accounts[0] != broker.GlobalAccountName || az.Account != nil {
		t.Fatalf("accountz: %+v", az)
	}
	one := testutil.GetJSON[monitor.Accountz](t, s, monitor.AccountzPath+"?acc=$G").Account
	if one == nil || one.AccountName != "$G" || one.ClientCnt != 2 || one.SubCnt != 1 || one.JetStream || !one.Complete {
		t.Fatalf("accountz?acc=$G: %+v", one)
	}
	testutil.WantBadRequest(t, s, monitor.AccountzPath+"?acc=nobody", "Account nobody does not exist")
}

func TestHealthzWithoutJetStream(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	if code, body := testutil.HTTPGet(t, s, monitor.HealthzPath); code != http.StatusOK || !strings.Contains(body, `"status": "ok"`) {
		t.Fatalf("healthz: %d %s", code, body)
	}
	s.Shutdown()
	if s.Serving() {
		t.Fatal("still serving after shutdown")
	}
}

func TestMonitorBasePathAndDashboard(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor, func(o *config.Options) { o.HTTPBasePath = "mon/" })
	if v := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath); v.HTTPBasePath != "/mon" {
		t.Fatalf("http_base_path %q", v.HTTPBasePath)
	}
	resp, err := testutil.HTTPClient.Get("http://" + s.MonitorAddr().String() + monitor.VarzPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/varz outside the base path: %d", resp.StatusCode)
	}
	code, page := testutil.HTTPGet(t, s, "/")
	// The only URL allowed is the SVG namespace name, which is never fetched.
	rest := strings.ReplaceAll(page, `"http://www.w3.org/2000/svg"`, "")
	selfContained := !strings.Contains(rest, "http://") && !strings.Contains(rest, "https://")
	if code != http.StatusOK || !strings.Contains(page, "<title>midge</title>") || !selfContained {
		t.Fatalf("dashboard: %d, self-contained=%v", code, selfContained)
	}
	if code, _ := testutil.HTTPGet(t, s, "/nothing-here"); code != http.StatusNotFound {
		t.Fatalf("unknown path: %d", code)
	}
}

func TestMonitorOffByDefault(t *testing.T) {
	s := testutil.StartServer(t)
	if s.MonitorAddr() != nil {
		t.Fatalf("monitoring listens on %v without HTTPPort", s.MonitorAddr())
	}
}

// notStarted is a Source whose server has not finished Start: streams are
// still being recovered and no client listener exists yet.
type notStarted struct{ b *broker.Broker }

func (n notStarted) Broker() *broker.Broker              { return n.b }
func (notStarted) Started() (time.Time, bool)            { return time.Time{}, false }
func (notStarted) Serving() bool                         { return false }
func (notStarted) LameDuck() bool                        { return false }
func (notStarted) ClientAddr() *net.TCPAddr              { return nil }
func (notStarted) WebSocketAddr() *net.TCPAddr           { return nil }
func (notStarted) MQTTAddr() *net.TCPAddr                { return nil }
func (notStarted) KafkaAddr() *net.TCPAddr               { return nil }
func (notStarted) Protocols() monitor.ProtocolStats      { return monitor.ProtocolStats{} }
func (notStarted) JetStream() []monitor.JetStreamAccount { return nil }
func (notStarted) WebSocketPage() http.Handler           { return nil }
func (notStarted) Cluster() *monitor.Cluster             { return nil }

// Before Start has finished the monitoring server already answers, and
// /healthz says no.
func TestMonitoringBeforeStartFinishes(t *testing.T) {
	b, err := broker.New(config.Options{Host: "127.0.0.1", Port: 4999, HTTPPort: config.MonitorRandomPort,
		JetStream: true, StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := monitor.New(notStarted{b})
	if err := m.Start(); err != nil { // what the server's Start does first
		t.Fatal(err)
	}
	defer m.Close()
	get := func(path string) (int, []byte) {
		t.Helper()
		resp, err := testutil.HTTPClient.Get("http://" + m.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, body := get(monitor.HealthzPath); code != http.StatusInternalServerError || !strings.Contains(string(body), "not accepting") {
		t.Fatalf("healthz before start: %d %s", code, body)
	}
	code, body := get(monitor.VarzPath)
	var v monitor.Varz
	if err := json.Unmarshal(body, &v); code != http.StatusOK || err != nil {
		t.Fatalf("varz before start: %d %v %s", code, err, body)
	}
	if v.Port != 4999 || v.Uptime != "0s" || v.JetStream.Stats != nil {
		t.Fatalf("varz before start: port %d uptime %s js %+v", v.Port, v.Uptime, v.JetStream)
	}
	if code, _ := get(monitor.MetricsPath); code != http.StatusOK {
		t.Fatalf("metrics before start: %d", code)
	}
}
