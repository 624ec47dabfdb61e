package jscluster_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A publish the leader refuses (a compare-and-set whose expected last
// subject sequence is out of date) or answers as a duplicate, while the
// write that made it so is still in flight, is answered only after that
// write is acknowledged: neither ever comes first.
func TestR3ExpectationAnswersWaitForWritesAhead(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "CAS", Subjects: []string{"cas.>"}, Replicas: 3})
	leader := leaderOf(t, js, "CAS")
	nc, _ := c.client(c.byName(leader))
	replies := make(chan *nats.Msg, 64)
	sub, err := nc.ChanSubscribe("r.>", replies)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	next := func() *nats.Msg {
		select {
		case m := <-replies:
			return m
		case <-time.After(5 * time.Second):
			t.Fatal("no answer")
			return nil
		}
	}
	const rounds = 20
	for i := range rounds {
		subj := fmt.Sprintf("cas.k%d", i)
		w := nats.NewMsg(subj)
		w.Reply = "r.write"
		w.Header.Set("Nats-Msg-Id", fmt.Sprintf("id-%d", i))
		w.Data = []byte("v1")
		casMsg := nats.NewMsg(subj)
		casMsg.Reply = "r.cas"
		casMsg.Header.Set("Nats-Expected-Last-Subject-Sequence", "0")
		casMsg.Data = []byte("v2")
		dup := nats.NewMsg(subj)
		dup.Reply = "r.dup"
		dup.Header.Set("Nats-Msg-Id", fmt.Sprintf("id-%d", i))
		dup.Data = []byte("v1")
		for _, m := range []*nats.Msg{w, casMsg, dup} {
			if err := nc.PublishMsg(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		var order []string
		answers := map[string]string{}
		for range 3 {
			m := next()
			order = append(order, m.Subject+" "+string(m.Data))
			answers[m.Subject] = string(m.Data)
		}
		// The write's acknowledgement comes first; the refusal and the
		// duplicate (answered with its original's outcome) after it, in
		// either order.
		if !strings.HasPrefix(order[0], "r.write ") || len(answers) != 3 {
			t.Fatalf("round %d: answers in the order %q, want the write's acknowledgement first", i, order)
		}
		if !strings.Contains(answers["r.cas"], "wrong last sequence") {
			t.Fatalf("round %d: the compare-and-set was answered %q", i, answers["r.cas"])
		}
		var write, retry struct {
			Seq       uint64 `json:"seq"`
			Duplicate bool   `json:"duplicate"`
		}
		if json.Unmarshal([]byte(answers["r.write"]), &write) != nil || json.Unmarshal([]byte(answers["r.dup"]), &retry) != nil ||
			!retry.Duplicate || retry.Seq != write.Seq || write.Seq == 0 {
			t.Fatalf("round %d: the write was answered %q and its retry %q", i, answers["r.write"], answers["r.dup"])
		}
	}
}
