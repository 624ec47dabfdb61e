package route_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// checkFlow publishes on from until sub (on another server) gets a
// message, proving interest and messages cross the route again.
func checkFlow(t *testing.T, from *nats.Conn, subject string, sub *nats.Subscription) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		from.Publish(subject, []byte("ping"))
		from.Flush()
		if _, err := sub.NextMsg(100 * time.Millisecond); err == nil {
			return
		}
	}
	t.Fatalf("no message on %s crossed the route", subject)
}

func TestInterestResyncedAfterRouteIsCutAndHeals(t *testing.T) {
	a := startNode(t, "a", nil)
	proxy := newFaultProxy(t, a.ClusterAddr().String())
	b := startNode(t, "b", []string{proxy.URL()})
	waitMesh(t, a, b)

	ncA, ncB := connect(t, a), connect(t, b)
	before, _ := ncB.SubscribeSync("before.cut")
	ncB.Flush()
	checkFlow(t, ncA, "before.cut", before)

	proxy.cut()
	waitFor(t, 5*time.Second, func() bool { return a.NumRoutes() == 0 && b.NumRoutes() == 0 }, nil)
	// A has no local subscriptions: what it holds would be B's.
	if n := a.GlobalAccount().NumSubscriptions(); n != 0 {
		t.Fatalf("A kept %d subscriptions of a route that is gone", n)
	}
	// Interest that changes while the route is down: one subscription
	// goes, another comes.
	before.Unsubscribe()
	during, _ := ncB.SubscribeSync("during.cut")
	ncB.Flush()

	proxy.heal()
	waitMesh(t, a, b)
	waitFor(t, 5*time.Second, func() bool { return routeSubs(a) == 1 && a.GlobalAccount().NumSubscriptions() == 1 }, func() string {
		return "A does not have exactly B's one current subscription"
	})
	checkFlow(t, ncA, "during.cut", during)
	ncA.Publish("before.cut", []byte("stale"))
	ncA.Flush()
	if msgs, _ := routeOut(a); msgs == 0 {
		t.Fatal("no messages counted on the healed route")
	}
}

func TestBlackholedRouteIsDetectedAndHeals(t *testing.T) {
	a := startNode(t, "a", nil)
	proxy := newFaultProxy(t, a.ClusterAddr().String())
	b := startNode(t, "b", []string{proxy.URL()})
	waitMesh(t, a, b)
	ncA, ncB := connect(t, a), connect(t, b)
	sub, _ := ncB.SubscribeSync("bh")
	ncB.Flush()
	checkFlow(t, ncA, "bh", sub)

	// Bytes vanish but the sockets stay open: only the route's PINGs can
	// tell, within a few ping intervals.
	proxy.setBlackhole(true)
	waitFor(t, 10*time.Second, func() bool { return a.NumRoutes() == 0 && b.NumRoutes() == 0 }, func() string {
		return "a blackholed route was not detected"
	})
	proxy.heal()
	waitMesh(t, a, b)
	checkFlow(t, ncA, "bh", sub)
}
