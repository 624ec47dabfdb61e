package jscluster_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
)

// metaView is /jsz's meta_cluster as a client reads it.
type metaView struct {
	Name     string `json:"name"`
	Leader   string `json:"leader"`
	Size     int    `json:"cluster_size"`
	Replicas []struct {
		Name    string `json:"name"`
		Current bool   `json:"current"`
		Offline bool   `json:"offline"`
	} `json:"replicas"`
}

func jszMeta(nd *node) (metaView, bool) {
	resp, err := http.Get(testutil.MonitorURL(nd.s, "/jsz"))
	if err != nil {
		return metaView{}, false
	}
	defer resp.Body.Close()
	var body struct {
		Meta *metaView `json:"meta_cluster"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Meta == nil {
		return metaView{}, false
	}
	return *body.Meta, true
}

// /jsz shows the JetStream meta group as each server sees it: the same
// leader everywhere and the cluster's size, and on the leader the other
// members, current; after the leader stops, a new
// one that shows the stopped server offline.
func TestJszShowsTheMetaGroup(t *testing.T) {
	c := startCluster(t, 3)
	var leader string
	waitFor(t, 20*time.Second, "one meta leader seen by all, the others current on it", func() bool {
		leader = ""
		for _, nd := range c.nodes {
			m, ok := jszMeta(nd)
			if !ok || m.Leader == "" || m.Size != 3 || m.Name != "jsc" {
				return false
			}
			if leader != "" && m.Leader != leader {
				return false
			}
			leader = m.Leader
		}
		m, _ := jszMeta(c.byName(leader))
		if len(m.Replicas) != 2 {
			return false
		}
		for _, r := range m.Replicas {
			if !r.Current || r.Offline || r.Name == leader {
				return false
			}
		}
		return true
	})
	c.byName(leader).stop()
	waitFor(t, 20*time.Second, "a new meta leader showing the old one offline", func() bool {
		var newLeader string
		for _, nd := range c.up() {
			m, ok := jszMeta(nd)
			if !ok || m.Leader == "" || m.Leader == leader || (newLeader != "" && m.Leader != newLeader) {
				return false
			}
			newLeader = m.Leader
		}
		m, ok := jszMeta(c.byName(newLeader))
		if !ok {
			return false
		}
		for _, r := range m.Replicas {
			if r.Name == leader {
				return r.Offline && !r.Current
			}
		}
		return false
	})
}
