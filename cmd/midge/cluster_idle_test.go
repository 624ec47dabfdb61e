package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// routezTraffic is what /routez says of one server's replication traffic.
type routezTraffic struct {
	RouteOutMsgs, RouteOutBytes int64 // summed over its routes
	RaftFrames, RaftBytes       uint64
	Groups, Quiescent           int
}

func (n *clusterNode) routez(t *testing.T) (routezTraffic, bool) {
	resp, err := http.Get(n.monitor + "/routez")
	if err != nil {
		return routezTraffic{}, false
	}
	defer resp.Body.Close()
	var rz struct {
		Routes []struct {
			OutMsgs  int64 `json:"out_msgs"`
			OutBytes int64 `json:"out_bytes"`
		} `json:"routes"`
		Raft *struct {
			FramesSent uint64 `json:"frames_sent"`
			BytesSent  uint64 `json:"bytes_sent"`
			Groups     int    `json:"groups"`
			Quiescent  int    `json:"quiescent_groups"`
		} `json:"raft"`
	}
	if json.NewDecoder(resp.Body).Decode(&rz) != nil || rz.Raft == nil {
		return routezTraffic{}, false
	}
	tr := routezTraffic{RaftFrames: rz.Raft.FramesSent, RaftBytes: rz.Raft.BytesSent,
		Groups: rz.Raft.Groups, Quiescent: rz.Raft.Quiescent}
	for _, r := range rz.Routes {
		tr.RouteOutMsgs += r.OutMsgs
		tr.RouteOutBytes += r.OutBytes
	}
	return tr, true
}

// rssKB is a process's resident set from /proc (0 where there is none).
func rssKB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return kb
		}
	}
	return 0
}

// waitQuiescent polls /routez until every server has groups raft groups
// (the meta group and the streams'), all of them quiescent.
func waitQuiescent(t *testing.T, groups int, nodes []*clusterNode) {
	t.Helper()
	deadline := time.Now().Add(time.Minute + time.Duration(groups)*50*time.Millisecond)
	for {
		ok := true
		var got []string
		for _, n := range nodes {
			tr, good := n.routez(t)
			got = append(got, fmt.Sprintf("%d/%d", tr.Quiescent, tr.Groups))
			ok = ok && good && tr.Groups == groups && tr.Quiescent == groups
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %d quiescent groups per server, have (quiescent/groups) %s", groups, strings.Join(got, ", "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// idleRates measures each server's replication traffic per second over
// window: raft frames and bytes, and the messages and bytes its routes sent.
type idleRate struct{ frames, bytes, routeMsgs, routeBytes float64 }

func idleRates(t *testing.T, nodes []*clusterNode, window time.Duration) []idleRate {
	t.Helper()
	before := make([]routezTraffic, len(nodes))
	for i, n := range nodes {
		before[i], _ = n.routez(t)
	}
	start := time.Now()
	time.Sleep(window) // a measurement window, not synchronisation
	el := time.Since(start).Seconds()
	out := make([]idleRate, len(nodes))
	for i, n := range nodes {
		after, ok := n.routez(t)
		if !ok {
			t.Fatalf("no /routez raft block on n%d", i)
		}
		out[i] = idleRate{
			frames:     float64(after.RaftFrames-before[i].RaftFrames) / el,
			bytes:      float64(after.RaftBytes-before[i].RaftBytes) / el,
			routeMsgs:  float64(after.RouteOutMsgs-before[i].RouteOutMsgs) / el,
			routeBytes: float64(after.RouteOutBytes-before[i].RouteOutBytes) / el,
		}
	}
	return out
}

// TestIdleR3StreamTrafficDoesNotGrowWithStreams creates idle R3 streams on
// three midge processes and measures, from /routez, the replication
// traffic once their groups are quiescent: with 4 streams and with many
// (MIDGE_IDLE_STREAMS, default 40; `make soak-cluster` runs 1,000), each
// server's raft frames and route messages per second must not grow with
// the number of streams (the host's heartbeat per peer is the cost), and
// the route counters must carry the raft frames. Stream creates must not
// wait out election timeouts. It logs each server's RSS before and after
// and the time a stream create took.
func TestIdleR3StreamTrafficDoesNotGrowWithStreams(t *testing.T) {
	many := 40
	if s := os.Getenv("MIDGE_IDLE_STREAMS"); s != "" {
		var err error
		if many, err = strconv.Atoi(s); err != nil || many < 8 {
			t.Fatalf("MIDGE_IDLE_STREAMS=%q: want a number of at least 8", s)
		}
	}
	const few = 4
	window := 3 * time.Second

	nodes := startJSCluster(t)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, clientURL(t, n))
	}
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var createTime time.Duration
	created, slow := 0, 0
	create := func(upTo int) {
		for ; created < upTo; created++ {
			name := fmt.Sprintf("IDLE%d", created)
			start := time.Now()
			deadline := start.Add(30 * time.Second)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{"idle." + name}, Replicas: 3})
				cancel()
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("create %s: %v", name, err)
				}
				time.Sleep(100 * time.Millisecond) // the meta group may still be electing: retry
			}
			if created > 0 { // the first waits for the meta group
				took := time.Since(start)
				createTime += took
				if took >= 900*time.Millisecond {
					slow++
				}
			}
		}
	}
	rss := func() []int {
		var out []int
		for _, n := range nodes {
			out = append(out, rssKB(n.c.cmd.Process.Pid))
		}
		return out
	}

	create(1)
	waitQuiescent(t, 2, nodes)
	rss0 := rss()
	create(few)
	waitQuiescent(t, few+1, nodes)
	fewRates := idleRates(t, nodes, window)

	createStart := time.Now()
	create(many)
	t.Logf("created %d more R3 streams in %v (%v each, sequential creates over %d total)",
		many-few, time.Since(createStart).Round(time.Millisecond),
		(createTime / time.Duration(created-1)).Round(time.Millisecond), created)
	// A new group's first replica campaigns until the others have theirs
	// (jscluster's campaignNew): a create does not wait out an election
	// timeout (1 to 2 s), which about half of them did before.
	if slow > (created-1)/10 {
		t.Errorf("%d of %d stream creates took 900 ms or more", slow, created-1)
	}
	settle := time.Now()
	waitQuiescent(t, many+1, nodes)
	t.Logf("all %d groups quiescent on every server %v after the last create", many+1, time.Since(settle).Round(time.Millisecond))
	rss1 := rss()
	manyRates := idleRates(t, nodes, window)

	for i := range nodes {
		f, m := fewRates[i], manyRates[i]
		t.Logf("n%d: %d streams: raft %.1f frames/s %.0f B/s, routes out %.1f msgs/s %.0f B/s; %d streams: raft %.1f frames/s %.0f B/s, routes out %.1f msgs/s %.0f B/s",
			i, few, f.frames, f.bytes, f.routeMsgs, f.routeBytes, many, m.frames, m.bytes, m.routeMsgs, m.routeBytes)
		t.Logf("n%d: RSS %.1f MB with 1 stream, %.1f MB with %d (%.1f KB per further stream)",
			i, float64(rss0[i])/1024, float64(rss1[i])/1024, many, float64(rss1[i]-rss0[i])/float64(many-1))
		// Without quiescence every group's leader would heartbeat each
		// follower every 200 ms: 40 streams alone would be hundreds of
		// messages a second. The host's heartbeat is one frame per peer
		// per heartbeat period; a little slack for a wake-up in a window.
		if bound := 2*f.frames + 10; m.frames > bound {
			t.Errorf("n%d sends %.1f raft frames/s with %d idle streams, %.1f with %d (bound %.1f)", i, m.frames, many, f.frames, few, bound)
		}
		if bound := 2*f.routeMsgs + 10; m.routeMsgs > bound {
			t.Errorf("n%d's routes send %.1f msgs/s with %d idle streams, %.1f with %d (bound %.1f)", i, m.routeMsgs, many, f.routeMsgs, few, bound)
		}
		// The raft frames travel on the routes and are counted there, and
		// an idle cluster sends little else (the meta group's founding
		// used to be resent 4 times a second per peer for 30 s).
		for _, r := range []idleRate{f, m} {
			if r.frames > 0 && r.routeMsgs < r.frames/2 {
				t.Errorf("n%d: %.1f raft frames/s but its routes count %.1f msgs/s", i, r.frames, r.routeMsgs)
			}
			if r.routeMsgs > r.frames+3 {
				t.Errorf("n%d: its routes send %.1f msgs/s, %.1f of them raft frames", i, r.routeMsgs, r.frames)
			}
		}
	}
}
