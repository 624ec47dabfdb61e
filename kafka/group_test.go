package kafka

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupMember is a consumer in a group that records its assignment.
type groupMember struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
}

func (m *groupMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.assigned {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func newGroupMember(t *testing.T, b *testBroker, group, topic string) *groupMember {
	m := &groupMember{assigned: make(map[int32]bool)}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.HeartbeatInterval(100*time.Millisecond), kgo.SessionTimeout(6*time.Second),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			for _, p := range a[topic] {
				m.assigned[p] = true
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.assigned, p)
			}
			m.mu.Unlock()
		}))
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	t.Cleanup(cl.Close)
	// Poll in the background so the client heartbeats and rebalances.
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
		}
	}()
	return m
}

// waitForSplit waits until the members' assignments are disjoint, cover
// all partitions and each holds want[i] partitions.
func waitForSplit(t *testing.T, members []*groupMember, partitions int32, want []int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got [][]int32
		counts := make(map[int32]int)
		ok := true
		for i, m := range members {
			ps := m.partitions()
			got = append(got, ps)
			if len(ps) != want[i] {
				ok = false
			}
			for _, p := range ps {
				counts[p]++
			}
		}
		for p := int32(0); p < partitions && ok; p++ {
			ok = counts[p] == 1
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("assignments %v, want sizes %v covering %d partitions", got, want, partitions)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestConsumerGroupSplitsPartitionsAndRebalancesWhenAMemberLeaves(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "work", 6)
	members := []*groupMember{
		newGroupMember(t, b, "g1", "work"),
		newGroupMember(t, b, "g1", "work"),
		newGroupMember(t, b, "g1", "work"),
	}
	waitForSplit(t, members, 6, []int{2, 2, 2})

	members[2].cl.Close() // leaves the group
	waitForSplit(t, members[:2], 6, []int{3, 3})
	if d := b.srv.accountFor(b.backend).groups.describe("g1"); d.State != "Stable" || len(d.Members) != 2 {
		t.Fatalf("group after leave: state %s, %d members", d.State, len(d.Members))
	}
}

func TestConsumerGroupDropsAMemberWhoseSessionExpires(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "sess", 2)
	a := newGroupMember(t, b, "g2", "sess")
	waitForSplit(t, []*groupMember{a}, 2, []int{2})

	// A second member, driven by hand, joins, syncs and then falls silent.
	raw := b.client()
	ctx := ctxTimeout(t, 30*time.Second)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{"sess"}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = "g2", 1000, 10000
	join.ProtocolType = "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: meta.AppendTo(nil)}}
	jr, err := join.RequestWith(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if jr.ErrorCode == errMemberIDRequired {
		join.MemberID = jr.MemberID
		if jr, err = join.RequestWith(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	if jr.ErrorCode != 0 {
		t.Fatalf("join: error %d", jr.ErrorCode)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = "g2", jr.Generation, jr.MemberID
	sr, err := sync.RequestWith(ctx, raw)
	if err != nil || sr.ErrorCode != 0 {
		t.Fatalf("sync: %v, error %v", err, sr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(a.partitions()) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("first member holds %v after the second joined", a.partitions())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// No heartbeats: after its one-second session the member is dropped
	// and the other takes both partitions again.
	waitForSplit(t, []*groupMember{a}, 2, []int{2})
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID = "g2", jr.Generation, jr.MemberID
	if resp, err := hb.RequestWith(ctx, raw); err != nil || resp.ErrorCode != errUnknownMemberID {
		t.Fatalf("heartbeat of the expired member: %v, %+v", err, resp)
	}
}

func TestCommittedOffsetsSurviveRestart(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "durable", 2)
	produceKeyed(t, b.client(), "durable", 100)

	cons := b.client(kgo.ConsumerGroup("keeper"), kgo.ConsumeTopics("durable"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	ctx := ctxTimeout(t, 30*time.Second)
	recs := consumeN(t, ctx, cons, 100)
	if err := cons.CommitRecords(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	cons.Close()

	b.restart()
	produceKeyed(t, b.client(), "durable", 10) // keys 0..9 again, after the committed ones
	cons = b.client(kgo.ConsumerGroup("keeper"), kgo.ConsumeTopics("durable"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := consumeN(t, ctx, cons, 10)
	for _, r := range got {
		if r.Offset < 100 {
			t.Fatalf("record at offset %d delivered again after restart", r.Offset)
		}
	}
	// Nothing beyond the 10 new records arrives.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if extra := cons.PollFetches(short).Records(); len(extra) > 0 {
		t.Fatalf("%d more records after restart: first at offset %d", len(extra), extra[0].Offset)
	}
	groups, err := b.backend.OffsetGroups()
	if err != nil || fmt.Sprint(groups) != "[keeper]" {
		t.Fatalf("offset groups %v, %v", groups, err)
	}
}
