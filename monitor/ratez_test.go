package monitor_test

import (
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/monitor"
	"github.com/nats-io/nats.go"
)

// /ratez after real traffic: the rates add up to what was sent, and out is
// twice in with two subscribers.
func TestRatezAfterTraffic(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	pub := testutil.Connect(t, s)
	subConn := testutil.Connect(t, s)
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
	testutil.Flush(t, subConn)
	const n = 500
	testutil.PublishN(t, pub, "rates.x", n)
	for _, sub := range subs {
		testutil.ReceiveN(t, sub, n)
	}
	// Samples are taken every second: poll until they account for it all.
	var in, out float64
	deadline := time.Now().Add(15 * time.Second)
	for {
		rz := testutil.GetJSON[monitor.Ratez](t, s, monitor.RatezPath)
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
	testutil.WantBadRequest(t, s, monitor.RatezPath+"?since=yesterday", "since")
	rz := testutil.GetJSON[monitor.Ratez](t, s, monitor.RatezPath)
	last := rz.Samples[len(rz.Samples)-1].T
	later := testutil.GetJSON[monitor.Ratez](t, s, monitor.RatezPath+"?since="+strconv.FormatInt(last, 10))
	for _, smp := range later.Samples {
		if smp.T <= last {
			t.Fatalf("?since=%d returned the sample of %d", last, smp.T)
		}
	}
}
