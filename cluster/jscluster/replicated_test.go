package jscluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A stream created with three replicas through nats.go is placed on the
// three servers, reports its leader and replicas, and acknowledges
// publishes with consecutive sequences.
func TestR3StreamPlacedOnThreeServers(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[1])
	st := createStream(t, js, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Replicas: 3})
	info, err := st.Info(ctx(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 || info.Cluster.Name != "jsc" {
		t.Fatalf("cluster info %+v", info.Cluster)
	}
	for i := 1; i <= 50; i++ {
		ack, err := js.Publish(ctx(t, 5*time.Second), "orders.new", []byte("x"))
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if ack.Sequence != uint64(i) || ack.Stream != "ORDERS" {
			t.Fatalf("ack %+v, want seq %d", ack, i)
		}
	}
}

// leaderOf returns the server leading stream, as its info reports it.
func leaderOf(t *testing.T, js jetstream.JetStream, stream string) string {
	t.Helper()
	var leader string
	waitFor(t, 15*time.Second, "a stream leader", func() bool {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		st, err := js.Stream(c, stream)
		if err != nil {
			return false
		}
		info := st.CachedInfo()
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return false
		}
		leader = info.Cluster.Leader
		return true
	})
	return leader
}

// publisher publishes with a message id each and records what was acked.
type publisher struct {
	t     *testing.T
	js    jetstream.JetStream
	next  int
	acked map[uint64]string // sequence → payload
}

// publish publishes one message, retrying (same id: deduplicated) until
// acked or until the deadline.
func (p *publisher) publish(subject string, within time.Duration) error {
	p.next++
	payload := fmt.Sprintf("m%06d", p.next)
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		ack, err := p.js.Publish(c, subject, []byte(payload), jetstream.WithMsgID(payload))
		cancel()
		if err == nil {
			if prev, dup := p.acked[ack.Sequence]; dup && prev != payload {
				p.t.Fatalf("sequence %d acked for %s and for %s", ack.Sequence, prev, payload)
			}
			p.acked[ack.Sequence] = payload
			return nil
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

// verify checks that every acked message is in the stream at its sequence.
func (p *publisher) verify(stream string) {
	p.t.Helper()
	var st jetstream.Stream
	waitFor(p.t, 15*time.Second, "stream reachable", func() bool {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		var err error
		st, err = p.js.Stream(c, stream)
		return err == nil
	})
	for seq, payload := range p.acked {
		var msg *jetstream.RawStreamMsg
		var err error
		for range 20 {
			c, cancel := context.WithTimeout(context.Background(), time.Second)
			msg, err = st.GetMsg(c, seq)
			cancel()
			if err == nil || errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
		}
		if err != nil {
			p.t.Fatalf("acked message %s at %d: %v", payload, seq, err)
		}
		if string(msg.Data) != payload {
			p.t.Fatalf("sequence %d holds %q, acked %q", seq, msg.Data, payload)
		}
	}
}

// The stream leader's loss elects a new leader within seconds; publishes
// continue, no acknowledged message is lost and no sequence is reused.
func TestR3LeaderLossKeepsAckedMessages(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "EV", Subjects: []string{"ev.>"}, Replicas: 3})
	leader := leaderOf(t, js, "EV")
	// Publish through a server that stays up.
	via := c.nodes[0]
	if via.name == leader {
		via = c.nodes[1]
	}
	_, pjs := c.client(via)
	p := &publisher{t: t, js: pjs, acked: map[uint64]string{}}
	for range 100 {
		if err := p.publish("ev.a", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.byName(leader).stop()
	start := time.Now()
	if err := p.publish("ev.a", 10*time.Second); err != nil {
		t.Fatalf("no publish acked after the leader's loss: %v", err)
	}
	t.Logf("first publish acked %v after the leader stopped", time.Since(start))
	newLeader := leaderOf(t, pjs, "EV")
	if newLeader == leader {
		t.Fatalf("leader still %s", leader)
	}
	for range 100 {
		if err := p.publish("ev.a", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.verify("EV")
	// The old leader comes back as a follower and catches up.
	c.byName(leader).start()
	c.waitMesh()
	for range 20 {
		if err := p.publish("ev.a", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.verify("EV")
	if len(p.acked) != 221 {
		t.Fatalf("%d distinct sequences acked, want 221", len(p.acked))
	}
}

// With two of three servers down the stream has no majority: a publish is
// never acknowledged. Once they are back, publishes succeed again and
// nothing acknowledged before is lost.
func TestR3WithoutMajorityPublishesFailUntilRestart(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "Q", Subjects: []string{"q.>"}, Replicas: 3})
	p := &publisher{t: t, js: js, acked: map[uint64]string{}}
	for range 50 {
		if err := p.publish("q.a", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	c.nodes[1].stop()
	c.nodes[2].stop()
	for i := range 3 {
		pc, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ack, err := js.Publish(pc, "q.a", []byte("lost"), jetstream.WithMsgID(fmt.Sprintf("nomajority-%d", i)))
		cancel()
		if err == nil {
			t.Fatalf("publish acked at sequence %d without a majority", ack.Sequence)
		}
	}
	c.nodes[1].start()
	c.nodes[2].start()
	c.waitMesh()
	start := time.Now()
	if err := p.publish("q.a", 20*time.Second); err != nil {
		t.Fatalf("no publish acked after the restart: %v", err)
	}
	t.Logf("publishes acked again %v after the restart", time.Since(start))
	for range 20 {
		if err := p.publish("q.a", 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.verify("Q")
}

// The step-down request moves a stream's leadership to another replica,
// which then takes the publishes.
func TestR3StepDownMovesLeadership(t *testing.T) {
	c := startCluster(t, 3)
	nc, js := c.client(c.nodes[2])
	createStream(t, js, jetstream.StreamConfig{Name: "SD", Subjects: []string{"sd.>"}, Replicas: 3})
	p := &publisher{t: t, js: js, acked: map[uint64]string{}}
	if err := p.publish("sd.a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	before := leaderOf(t, js, "SD")
	var resp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	waitFor(t, 10*time.Second, "a successful step-down", func() bool {
		msg, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.SD", nil, 5*time.Second)
		if err != nil {
			return false
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			t.Fatalf("step-down response %q: %v", msg.Data, err)
		}
		return resp.Success
	})
	waitFor(t, 10*time.Second, "a new leader", func() bool { return leaderOf(t, js, "SD") != before })
	if err := p.publish("sd.a", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, ok := p.acked[2]; !ok {
		t.Fatalf("acked sequences %v, want 1 and 2", p.acked)
	}
	p.verify("SD")
}

// A retry (same message id) of a publish that is still in flight — ordered
// and proposed, not committed — waits for the original: it is not
// acknowledged while the original cannot commit (here: no majority), since
// a new leader could give that sequence to another message. Once the
// majority is back, the retry is stored (or deduplicated) and its sequence
// holds its payload.
func TestR3RetryOfInFlightPublishWaitsForTheOriginal(t *testing.T) {
	c := startCluster(t, 3)
	_, js0 := c.client(c.nodes[0])
	createStream(t, js0, jetstream.StreamConfig{Name: "DUP", Subjects: []string{"dup.>"}, Replicas: 3})
	lead := c.byName(leaderOf(t, js0, "DUP"))
	_, js := c.client(lead)
	p := &publisher{t: t, js: js, acked: map[uint64]string{}}
	if err := p.publish("dup.a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	var stopped []*node
	for _, nd := range c.nodes {
		if nd != lead {
			nd.stop()
			stopped = append(stopped, nd)
		}
	}
	// The original and its retry, in this order on one connection.
	first, err := js.PublishAsync("dup.a", []byte("X"), jetstream.WithMsgID("x"))
	if err != nil {
		t.Fatal(err)
	}
	pc, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	ack, err := js.Publish(pc, "dup.a", []byte("X"), jetstream.WithMsgID("x"))
	cancel()
	if err == nil {
		t.Fatalf("retry acked (sequence %d, duplicate %v) while its original cannot commit", ack.Sequence, ack.Duplicate)
	}
	select {
	case a := <-first.Ok():
		t.Fatalf("original acked at %d without a majority", a.Sequence)
	default:
	}
	for _, nd := range stopped {
		nd.start()
	}
	c.waitMesh()
	var got *jetstream.PubAck
	waitFor(t, 20*time.Second, "the retry acked", func() bool {
		pc, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		got, err = js.Publish(pc, "dup.a", []byte("X"), jetstream.WithMsgID("x"))
		return err == nil
	})
	if prev, ok := p.acked[got.Sequence]; ok {
		t.Fatalf("sequence %d acked for %s and for X", got.Sequence, prev)
	}
	p.acked[got.Sequence] = "X"
	if err := p.publish("dup.a", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	p.verify("DUP")
}

// The step-down request takes the reference server's
// {"placement":{"preferred":"<server>"}}: the leadership moves to that
// replica; an unknown server is refused and the leadership stays.
func TestR3StepDownToPreferredServer(t *testing.T) {
	c := startCluster(t, 3)
	nc, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "PREF", Subjects: []string{"pref.>"}, Replicas: 3})
	p := &publisher{t: t, js: js, acked: map[uint64]string{}}
	if err := p.publish("pref.a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	type stepDownResp struct {
		Success bool `json:"success"`
		Error   *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	stepDown := func(body string) stepDownResp {
		var resp stepDownResp
		msg, err := nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.PREF", []byte(body), 5*time.Second)
		if err != nil {
			return resp
		}
		if err := json.Unmarshal(msg.Data, &resp); err != nil {
			t.Fatalf("step-down response %q: %v", msg.Data, err)
		}
		return resp
	}
	before := leaderOf(t, js, "PREF")
	if r := stepDown(`{"placement":{"preferred":"nosuch"}}`); r.Success || r.Error == nil {
		t.Fatalf("step-down to an unknown server: %+v", r)
	}
	if l := leaderOf(t, js, "PREF"); l != before {
		t.Fatalf("leader moved from %s to %s on a refused step-down", before, l)
	}
	for _, want := range []string{"s1", "s2", "s3"} {
		if want == leaderOf(t, js, "PREF") {
			continue
		}
		waitFor(t, 15*time.Second, "a step-down to "+want, func() bool {
			return stepDown(fmt.Sprintf(`{"placement":{"preferred":%q}}`, want)).Success
		})
		waitFor(t, 10*time.Second, want+" leading", func() bool { return leaderOf(t, js, "PREF") == want })
		if err := p.publish("pref.a", 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	p.verify("PREF")
}
