package server

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The ring keeps the newest rateHistoryLen samples, oldest first, each the
// difference of two totals over the time between them.
func TestRateHistoryKeepsTheNewestSamples(t *testing.T) {
	var h rateHistory
	start := time.Unix(1_700_000_000, 0)
	var tot rateTotals
	const n = rateHistoryLen + 25
	for i := 0; i <= n; i++ {
		// Second i adds i messages in, 2i out, 100i bytes each way.
		tot.inMsgs += int64(i)
		tot.outMsgs += 2 * int64(i)
		tot.inBytes += 100 * int64(i)
		tot.outBytes += 100 * int64(i)
		h.record(start.Add(time.Duration(i)*time.Second), tot)
	}
	all := h.since(0)
	if len(all) != rateHistoryLen {
		t.Fatalf("%d samples kept, want %d", len(all), rateHistoryLen)
	}
	for k, s := range all {
		i := n - rateHistoryLen + 1 + k // the second this sample ends
		if s.T != start.Add(time.Duration(i)*time.Second).UnixMilli() ||
			s.InMsgs != float64(i) || s.OutMsgs != 2*float64(i) || s.InBytes != 100*float64(i) {
			t.Fatalf("sample %d = %+v, want the one ending at second %d", k, s, i)
		}
	}
	last := all[len(all)-1].T
	if got := h.since(last - 1); len(got) != 1 || got[0].T != last {
		t.Fatalf("since just before the last sample: %+v", got)
	}
	if got := h.since(last); len(got) != 0 {
		t.Fatalf("since the last sample: %+v", got)
	}
}

// /ratez after real traffic: the rates add up to what was sent, and out is
// twice in with two subscribers.
func TestRatezAfterTraffic(t *testing.T) {
	s := startServer(t, withMonitor)
	pub := connect(t, s)
	subConn := connect(t, s)
	subs := make([]*nats.Subscription, 2)
	for i := range subs {
		sub, err := subConn.SubscribeSync("rates.x")
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			t.Fatal(err)
		}
		subs[i] = sub
	}
	monFlush(t, subConn)
	const n = 500
	monPublish(t, pub, "rates.x", n)
	for _, sub := range subs {
		monReceive(t, sub, n)
	}
	// Samples are taken every second: poll until they account for it all.
	var in, out float64
	deadline := time.Now().Add(15 * time.Second)
	for {
		rz := getJSON[Ratez](t, s, RatezPath)
		in, out = 0, 0
		for _, smp := range rz.Samples {
			in += smp.InMsgs
			out += smp.OutMsgs
		}
		if rz.IntervalMS != 1000 {
			t.Fatalf("interval %d ms", rz.IntervalMS)
		}
		// Each rate is a count over an interval of about one second.
		if math.Abs(in-n) < 0.03*n && math.Abs(out-2*n) < 0.03*2*n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rates add up to %.1f in, %.1f out; want %d and %d", in, out, n, 2*n)
		}
		time.Sleep(100 * time.Millisecond) // polling the once-a-second sampler
	}
	wantBadRequest(t, s, RatezPath+"?since=yesterday", "since")
	rz := getJSON[Ratez](t, s, RatezPath)
	last := rz.Samples[len(rz.Samples)-1].T
	later := getJSON[Ratez](t, s, RatezPath+"?since="+strconv.FormatInt(last, 10))
	for _, smp := range later.Samples {
		if smp.T <= last {
			t.Fatalf("?since=%d returned the sample of %d", last, smp.T)
		}
	}
}
