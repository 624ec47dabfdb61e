package route_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A traced message that crosses a route is traced by both servers: the
// origin's event has an egress to the route with hop "1" (and "hops": 1),
// and the copy carries Nats-Trace-Hop: 1, so the other server sends its own
// event, whose ingress is the route. Between midge servers, and between
// midge and the reference server in both directions.

type routeTraceEvent struct {
	Server struct {
		Name string `json:"name"`
	} `json:"server"`
	Request struct {
		Header map[string][]string `json:"header"`
	} `json:"request"`
	Hops   int               `json:"hops"`
	Events []routeTraceEntry `json:"events"`
}

type routeTraceEntry struct {
	Type string `json:"type"`
	Kind int    `json:"kind"`
	Name string `json:"name,omitempty"`
	Hop  string `json:"hop,omitempty"`
	Subj string `json:"subj,omitempty"`
	Sub  string `json:"sub,omitempty"`
}

// checkRouteTrace publishes a traced message on pub (connected to server
// pubName) to a subscriber on sub (server subName) and checks both events.
func checkRouteTrace(t *testing.T, pub *nats.Conn, pubName string, sub *nats.Conn, subName string) {
	t.Helper()
	traces, _ := pub.SubscribeSync("trace.dest")
	got, _ := sub.SubscribeSync("foo")
	pub.Flush()
	sub.Flush()
	// Poll until each server knows the other's interest: probes from pub
	// reach sub, probes from sub reach the trace subscriber.
	probes, _ := sub.SubscribeSync("probe")
	sub.Flush()
	waitFor(t, 10*time.Second, func() bool {
		pub.Publish("foo", []byte("probe"))
		pub.Publish("probe", nil)
		sub.Publish("trace.dest", []byte("probe"))
		pub.Flush()
		sub.Flush()
		_, e1 := got.NextMsg(20 * time.Millisecond)
		_, e2 := traces.NextMsg(20 * time.Millisecond)
		_, e3 := probes.NextMsg(20 * time.Millisecond)
		return e1 == nil && e2 == nil && e3 == nil
	}, func() string { return "no interest across the route" })
	drain(got)
	drain(traces)

	m := nats.NewMsg("foo")
	m.Header.Set("Nats-Trace-Dest", "trace.dest")
	m.Data = []byte("traced")
	if err := pub.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	if d := nextMsg(t, got); string(d.Data) != "traced" {
		t.Fatalf("subscriber got %q", d.Data)
	}
	events := map[string]routeTraceEvent{}
	for len(events) < 2 {
		var ev routeTraceEvent
		raw := nextMsg(t, traces).Data
		if string(raw) == "probe" {
			continue
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		events[ev.Server.Name] = ev
	}
	origin, remote := events[pubName], events[subName]
	wantOrigin := []routeTraceEntry{
		{Type: "in", Kind: 0, Name: "pubber", Subj: "foo"},
		{Type: "eg", Kind: 1, Name: subName, Hop: "1"},
	}
	if origin.Hops != 1 || !reflect.DeepEqual(origin.Events, wantOrigin) {
		t.Errorf("%s's event: hops %d %+v, want 1 %+v", pubName, origin.Hops, origin.Events, wantOrigin)
	}
	wantRemote := []routeTraceEntry{
		{Type: "in", Kind: 1, Name: pubName, Subj: "foo"},
		{Type: "eg", Kind: 0, Name: "subber", Sub: "foo"},
	}
	if !reflect.DeepEqual(remote.Events, wantRemote) || !reflect.DeepEqual(remote.Request.Header["Nats-Trace-Hop"], []string{"1"}) {
		t.Errorf("%s's event: %+v (header %v), want %+v with Nats-Trace-Hop 1", subName, remote.Events, remote.Request.Header, wantRemote)
	}
}

func drain(sub *nats.Subscription) {
	for {
		if _, err := sub.NextMsg(50 * time.Millisecond); err != nil {
			return
		}
	}
}

func TestMessageTraceAcrossRoutes(t *testing.T) {
	nodes := startMesh(t, 2)
	pub := connect(t, nodes[0], nats.Name("pubber"))
	sub := connect(t, nodes[1], nats.Name("subber"))
	checkRouteTrace(t, pub, nodes[0].Name(), sub, nodes[1].Name())
}

func TestMessageTraceAcrossRoutesWithReference(t *testing.T) {
	a := startNode(t, "midge-a", nil)
	refClient, _ := startReference(t, a.ClusterURL())
	waitFor(t, 10*time.Second, func() bool { return a.NumRoutes() == 1 }, nil)
	dial := func(t *testing.T, url, name string) *nats.Conn {
		nc, err := nats.Connect(url, nats.MaxReconnects(0), nats.Name(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	t.Run("midge to reference", func(t *testing.T) {
		checkRouteTrace(t, dial(t, a.ClientURL(), "pubber"), "midge-a", dial(t, refClient, "subber"), "ref")
	})
	t.Run("reference to midge", func(t *testing.T) {
		checkRouteTrace(t, dial(t, refClient, "pubber"), "ref", dial(t, a.ClientURL(), "subber"), "midge-a")
	})
}
