package jscluster

import (
	"math/rand/v2"
	"slices"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/jsapi"
)

// place chooses the servers of a new stream's replicas among the meta
// group's voters: those in the placement's cluster and with all its tags,
// reachable ones first, then the least loaded, ties broken at random so
// that streams spread. The first one campaigns first.
func (c *Cluster) place(cfg jetstore.StreamConfig) ([]string, error) {
	return c.placeMore(cfg, nil)
}

// placeMore keeps the servers a stream has and chooses more, as place
// does, until there are cfg.Replicas of them, never one of avoid.
func (c *Cluster) placeMore(cfg jetstore.StreamConfig, have []string, avoid ...string) ([]string, error) {
	g := c.group(metaGroup)
	if g == nil {
		return nil, jsapi.ErrClusterUnavailable
	}
	if p := cfg.Placement; p != nil && p.Cluster != "" && p.Cluster != c.routes.ClusterName() {
		return nil, jsapi.ErrNoSuitablePeers
	}
	load := c.meta.load()
	type cand struct {
		name    string
		offline bool
		load    int
		tie     uint32
	}
	var cands []cand
	for _, id := range g.Status().Voters {
		name := c.names.name(id)
		if name == "" || slices.Contains(have, name) || slices.Contains(avoid, name) {
			continue
		}
		if p := cfg.Placement; p != nil && len(p.Tags) > 0 {
			tags := c.meta.tags(name)
			if name == c.self {
				tags = c.o.Tags
			}
			if !hasAll(tags, p.Tags) {
				continue
			}
		}
		cands = append(cands, cand{name: name, offline: !c.connected(name), load: load[name], tie: rand.Uint32()})
	}
	need := cfg.Replicas - len(have)
	if need < 0 || len(cands) < need {
		return nil, jsapi.ErrNoSuitablePeers
	}
	slices.SortFunc(cands, func(a, b cand) int {
		switch {
		case a.offline != b.offline:
			if a.offline {
				return 1
			}
			return -1
		case a.load != b.load:
			return a.load - b.load
		case a.tie < b.tie:
			return -1
		case a.tie > b.tie:
			return 1
		}
		return 0
	})
	out := slices.Clone(have)
	for _, cd := range cands[:need] {
		out = append(out, cd.name)
	}
	return out, nil
}

func hasAll(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}
