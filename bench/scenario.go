package bench

import (
	"fmt"
	"strings"
)

// Scenario is one benchmark shape. Pubs and Subs are counted in clients
// (connections); "pubs" are whatever sends (publishers, requesters, KV
// putters) and "subs" whatever receives (subscribers, responders,
// consumers, KV getters).
type Scenario struct {
	Name        string
	Summary     string
	DefaultPubs int
	DefaultSubs int
	JetStream   bool // needs a JetStream-enabled server
	KV          bool // uses a key-value bucket; --stream names the bucket
	// Prefills: the scenario reads --msgs messages that it stores before
	// the clock starts, so a duration bounds the reading of those.
	Prefills bool

	minPubs, maxPubs int // maxPubs < 0: no limit
	minSubs, maxSubs int
	run              func(*run) error
}

const many = -1

var scenarios = []*Scenario{
	{Name: "pub", Summary: "N publishers, nobody subscribed", DefaultPubs: 1,
		minPubs: 1, maxPubs: many, run: runPub},
	{Name: "sub", Summary: "M subscribers receiving from an external publisher (e.g. nats bench pub)", DefaultSubs: 1,
		minSubs: 1, maxSubs: many, run: runSub},
	{Name: "pubsub", Summary: "N publishers to M subscribers, every subscriber gets every message", DefaultPubs: 1, DefaultSubs: 1,
		minPubs: 1, maxPubs: many, minSubs: 1, maxSubs: many, run: func(r *run) error { return runPubSub(r, false) }},
	{Name: "fanout", Summary: "1 publisher to M subscribers", DefaultPubs: 1, DefaultSubs: 4,
		minPubs: 1, maxPubs: 1, minSubs: 1, maxSubs: many, run: func(r *run) error { return runPubSub(r, false) }},
	{Name: "fanin", Summary: "N publishers to 1 subscriber", DefaultPubs: 4, DefaultSubs: 1,
		minPubs: 1, maxPubs: many, minSubs: 1, maxSubs: 1, run: func(r *run) error { return runPubSub(r, false) }},
	{Name: "queue", Summary: "N publishers to M subscribers in one queue group, each message delivered once", DefaultPubs: 1, DefaultSubs: 4,
		minPubs: 1, maxPubs: many, minSubs: 1, maxSubs: many, run: func(r *run) error { return runPubSub(r, true) }},
	{Name: "reqrep", Summary: "N requesters, each sequential, to M responders in a queue group", DefaultPubs: 1, DefaultSubs: 1,
		minPubs: 1, maxPubs: many, minSubs: 1, maxSubs: many, run: runReqRep},
	{Name: "js-pub", Summary: "JetStream publish with acks (async with a max in-flight window, or --sync)", DefaultPubs: 1, JetStream: true,
		minPubs: 1, maxPubs: many, run: runJSPub},
	{Name: "js-fetch", Summary: "durable pull consumer, Fetch batches, explicit acks", DefaultSubs: 1, JetStream: true, Prefills: true,
		minSubs: 1, maxSubs: many, run: func(r *run) error { return runJSConsumer(r, jsFetch) }},
	{Name: "js-consume", Summary: "durable pull consumer, Consume callback, explicit acks", DefaultSubs: 1, JetStream: true, Prefills: true,
		minSubs: 1, maxSubs: many, run: func(r *run) error { return runJSConsumer(r, jsConsume) }},
	{Name: "js-ordered", Summary: "ordered ephemeral consumer per subscriber, each reads the whole stream", DefaultSubs: 1, JetStream: true, Prefills: true,
		minSubs: 1, maxSubs: many, run: func(r *run) error { return runJSConsumer(r, jsOrdered) }},
	{Name: "kv-put", Summary: "key-value puts, each waiting for its ack", DefaultPubs: 1, JetStream: true, KV: true,
		minPubs: 1, maxPubs: many, run: runKVPut},
	{Name: "kv-get", Summary: "key-value gets of keys written beforehand", DefaultSubs: 1, JetStream: true, KV: true, Prefills: true,
		minSubs: 1, maxSubs: many, run: runKVGet},
}

// Scenarios lists every scenario in the order the help shows them.
func Scenarios() []*Scenario { return scenarios }

// ScenarioNames is the comma-separated list of scenario names.
func ScenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

func lookupScenario(name string) (*Scenario, bool) {
	for _, s := range scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}

func (s *Scenario) checkClients(pubs, subs int, noResponders bool) error {
	if noResponders {
		if s.Name != "reqrep" {
			return fmt.Errorf("%s has no responders to leave out", s.Name)
		}
		subs = max(subs, s.minSubs)
	}
	if err := checkRange(s.Name, "--pubs", pubs, s.minPubs, s.maxPubs); err != nil {
		return err
	}
	return checkRange(s.Name, "--subs", subs, s.minSubs, s.maxSubs)
}

func checkRange(scenario, flag string, v, lo, hi int) error {
	switch {
	case hi == 0 && v != 0:
		return fmt.Errorf("%s takes no %s", scenario, flag)
	case v < lo:
		return fmt.Errorf("%s needs %s of at least %d", scenario, flag, lo)
	case hi > 0 && v > hi:
		return fmt.Errorf("%s takes %s of at most %d", scenario, flag, hi)
	}
	return nil
}
