package multiraft

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// BenchmarkPropose measures proposal throughput and commit latency of one
// group on three hosts over loopback TCP with real files and fsync: each
// operation is one proposal, answered once a majority has it on disk and
// the leader has applied it. Concurrent proposers share fsyncs (group
// commit). Reports p50/p99 latency in microseconds.
//
//	go test -run '^$' -bench BenchmarkPropose -benchtime 3s ./cluster/multiraft
func BenchmarkPropose(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, par := range []int{1, 64} {
			b.Run(fmt.Sprintf("size=%d/proposers=%d", size, par), func(b *testing.B) {
				benchPropose(b, size, par)
			})
		}
	}
}

func benchPropose(b *testing.B, size, par int) {
	c := newTCPCluster(b, 3, 10*time.Millisecond)
	for id := NodeID(1); id <= 3; id++ {
		if _, err := c.host(id).CreateGroup(1, []NodeID{1, 2, 3}); err != nil {
			b.Fatal(err)
		}
	}
	leader := c.host(c.waitLeader(1)).Group(1)
	payload := make([]byte, size)
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	var next sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for range par {
		next.Add(1)
		go func() {
			defer next.Done()
			mine := make([]time.Duration, 0, b.N/par+1)
			for range work {
				start := time.Now()
				if _, err := leader.Propose(context.Background(), payload); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	next.Wait()
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkIdleGroups measures what idle groups cost: three hosts over
// loopback TCP each carry a replica of every group; once all groups have
// elected leaders and gone idle, it counts the frames and bytes the hosts
// send during a window, and the heap per replica. Run it once:
//
//	go test -run '^$' -bench BenchmarkIdleGroups -benchtime 1x ./cluster/multiraft
func BenchmarkIdleGroups(b *testing.B) {
	for _, quiesce := range []bool{true, false} {
		b.Run(fmt.Sprintf("groups=1000/quiesce=%v", quiesce), func(b *testing.B) {
			benchIdle(b, 1000, quiesce)
		})
	}
}

func benchIdle(b *testing.B, groups int, quiesce bool) {
	const tick = 100 * time.Millisecond
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	parts := &partitions{blocked: map[[2]NodeID]bool{}}
	trs := map[NodeID]*TCPTransport{}
	hosts := map[NodeID]*Host{}
	for id := NodeID(1); id <= 3; id++ {
		tr, err := ListenTCP(id, "127.0.0.1:0", 0)
		if err != nil {
			b.Fatal(err)
		}
		trs[id] = tr
	}
	for id, tr := range trs {
		for other, otr := range trs {
			if other != id {
				tr.SetPeer(other, otr.Addr())
			}
		}
		h, err := Open(Config{ID: id, Dir: b.TempDir(), Transport: faultyTransport{inner: tr, id: id, parts: parts},
			TickInterval: tick, DisableQuiescence: !quiesce},
			func(GroupID) (StateMachine, error) { return newKV(), nil })
		if err != nil {
			b.Fatal(err)
		}
		hosts[id] = h
	}
	defer func() {
		for id := range hosts {
			hosts[id].Close()
			trs[id].Close()
		}
	}()
	for g := GroupID(1); g <= GroupID(groups); g++ {
		for id := NodeID(1); id <= 3; id++ {
			if _, err := hosts[id].CreateGroup(g, []NodeID{1, 2, 3}); err != nil {
				b.Fatal(err)
			}
		}
		hosts[NodeID(1+g%3)].Group(g).Campaign()
	}
	// Wait until every group has a leader and (when on) every replica is
	// quiesced.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		led, quiet := 0, 0
		for g := GroupID(1); g <= GroupID(groups); g++ {
			for _, h := range hosts {
				st := h.Group(g).Status()
				if st.IsLeader {
					led++
				}
			}
		}
		for _, h := range hosts {
			quiet += h.Stats().Quiesced
		}
		if led == groups && (!quiesce || quiet == 3*groups) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 2 minutes: %d groups led, %d replicas quiesced", led, quiet)
		}
		time.Sleep(tick)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	sent := func() (f, by, items uint64) {
		for _, h := range hosts {
			st := h.Stats()
			f += st.FramesSent
			by += st.BytesSent
			items += st.ItemsReceived
		}
		return
	}
	f0, b0, i0 := sent()
	b.ResetTimer()
	const window = 5 * time.Second
	time.Sleep(window)
	b.StopTimer()
	f1, b1, i1 := sent()
	secs := window.Seconds()
	b.ReportMetric(float64(i1-i0)/secs/3, "group-msgs/s/node")
	b.ReportMetric(float64(f1-f0)/secs/3, "frames/s/node")
	b.ReportMetric(float64(b1-b0)/secs/3, "bytes/s/node")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(3*groups), "heap-B/replica")
}
