package jscluster

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/cluster/multiraft"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/jsapi"
)

// The jsapi.Cluster the API layer calls: meta operations on the meta
// leader, stream operations on the stream's leader, and forwarding.

// reservedSubjects may be captured by a stream only without acks (the
// API's own subjects).
var reservedSubjects = []string{"$JS.API.>"}

// opTimeout bounds an API operation's wait for its entry.
const opTimeout = 10 * time.Second

var _ jsapi.Cluster = (*Cluster)(nil)

// IsMetaLeader reports whether this server leads the meta group.
func (c *Cluster) IsMetaLeader() bool {
	g := c.group(metaGroup)
	return g != nil && g.Status().IsLeader
}

// Forward sends a request to the meta leader (stream "") or to the
// stream's leader, or to a replica that knows it.
func (c *Cluster) Forward(acc *broker.Account, stream string, req jsapi.ForwardedRequest) bool {
	to := ""
	if stream == "" {
		if g := c.group(metaGroup); g != nil {
			to = c.names.name(g.Status().Leader)
		}
	} else {
		to = c.streamLeaderHint(acc.Name(), stream)
	}
	if to == "" || to == c.self {
		return false
	}
	return c.rpc.send(to, mForward, jsapi.EncodeForwarded(acc.Name(), req))
}

// streamLeaderHint names the server to send a stream's request to: its
// leader when this server knows it, else a connected replica.
func (c *Cluster) streamLeaderHint(account, stream string) string {
	a := c.meta.lookup(account, stream)
	if a == nil {
		return ""
	}
	if r := c.replica(a.Group); r != nil {
		if g := r.group.Load(); g != nil {
			if l := g.Status().Leader; l != 0 && l != c.selfID {
				return c.names.name(l)
			}
		}
	}
	for _, p := range a.Peers {
		if p != c.self && c.connected(p) {
			return p
		}
	}
	return ""
}

func (c *Cluster) handleForward(_ string, body []byte) ([]byte, error) {
	account, req, err := jsapi.DecodeForwarded(body)
	if err != nil {
		return nil, err
	}
	if acc := c.account(account); acc != nil {
		c.js.HandleForwarded(acc, req)
	}
	return nil, nil
}

// Stream returns the stream's view when this server leads it.
func (c *Cluster) Stream(acc *broker.Account, name string) (*jsapi.StreamView, bool) {
	a := c.meta.lookup(acc.Name(), name)
	if a == nil {
		return nil, false
	}
	r := c.replica(a.Group)
	if r == nil || !r.isLeading() {
		return nil, true
	}
	return c.view(r), true
}

func (r *replica) isLeading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lead != nil
}

// Streams lists an account's streams, with the state of this server's
// copy where it has one.
func (c *Cluster) Streams(acc *broker.Account) []*jsapi.StreamView {
	var out []*jsapi.StreamView
	for _, a := range c.meta.streams(acc.Name()) {
		v := &jsapi.StreamView{Config: a.Config, Created: a.Created, Cluster: &jsapi.ClusterInfo{Name: c.routes.ClusterName()}}
		if r := c.replica(a.Group); r != nil {
			if r.isLeading() {
				v = c.view(r)
			} else {
				v.Stream = r.st
				if g := r.group.Load(); g != nil {
					v.Cluster.Leader = c.names.name(g.Status().Leader)
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// CreateStream places and creates a stream (meta leader).
func (c *Cluster) CreateStream(acc *broker.Account, cfg jetstore.StreamConfig, reply string) (bool, error) {
	cfg, err := jetstore.NormalizeConfig(cfg, reservedSubjects)
	if err != nil {
		return false, err
	}
	if err := checkClusterFeatures(&cfg); err != nil {
		return false, err
	}
	if a := c.meta.lookup(acc.Name(), cfg.Name); a != nil {
		if a.Config.Equal(cfg) {
			return true, nil
		}
		return false, jetstore.ErrStreamNameInUse
	}
	peers, err := c.place(cfg)
	if err != nil {
		return false, err
	}
	res, err := c.proposeMeta(metaOp{Op: "create", Account: acc.Name(), Config: &cfg, Peers: peers,
		Created: time.Now().UTC(), Reply: reply})
	if err != nil {
		return false, err
	}
	return res.(createResult).exists, nil
}

// UpdateStream changes a stream's configuration (meta leader); unchanged
// when it is the same.
func (c *Cluster) UpdateStream(acc *broker.Account, cfg jetstore.StreamConfig, reply string) (bool, error) {
	cfg, err := jetstore.NormalizeConfig(cfg, reservedSubjects)
	if err != nil {
		return false, err
	}
	if err := checkClusterFeatures(&cfg); err != nil {
		return false, err
	}
	a := c.meta.lookup(acc.Name(), cfg.Name)
	if a == nil {
		return false, jetstore.ErrStreamNotFound
	}
	if cfg.FirstSeq == 0 {
		cfg.FirstSeq = a.Config.FirstSeq
	}
	if a.Config.Equal(cfg) {
		return true, nil
	}
	if err := checkUpdate(a.Config, cfg); err != nil {
		return false, err
	}
	var peers []string
	switch {
	case cfg.Replicas > a.Config.Replicas:
		// New replicas join the running group as learners and vote once
		// they hold the stream (repair.go).
		if peers, err = c.placeMore(cfg, a.Peers); err != nil {
			return false, err
		}
	case cfg.Replicas < a.Config.Replicas:
		peers = c.keepPeers(a, cfg.Replicas) // the others leave (shrink.go)
	}
	_, err = c.proposeMeta(metaOp{Op: "update", Account: acc.Name(), Config: &cfg, Peers: peers,
		Created: time.Now().UTC(), Reply: reply})
	return false, err
}

// RemovePeer takes peer out of a stream's placement and places the stream
// on another server instead (meta leader): the leader removes the peer
// from the group and the new server joins as a learner (shrink.go,
// repair.go). The peer deletes its copy when it learns of its removal.
func (c *Cluster) RemovePeer(acc *broker.Account, stream, peer string) error {
	a := c.meta.lookup(acc.Name(), stream)
	if a == nil {
		return jetstore.ErrStreamNotFound
	}
	if !slices.Contains(a.Peers, peer) {
		return jsapi.ErrPeerNotMember
	}
	if len(a.Peers) == 1 {
		return jsapi.ErrOnlyPeer // nothing left to copy the stream from
	}
	kept := slices.DeleteFunc(slices.Clone(a.Peers), func(p string) bool { return p == peer })
	peers, err := c.placeMore(a.Config, kept, peer)
	if err != nil {
		return err
	}
	_, err = c.proposeMeta(metaOp{Op: "peers", Account: acc.Name(), Name: stream, Peers: peers})
	return err
}

// DeleteStream deletes a stream (meta leader): once committed, every
// replica deletes its copy.
func (c *Cluster) DeleteStream(acc *broker.Account, name string) error {
	if c.meta.lookup(acc.Name(), name) == nil {
		return jetstore.ErrStreamNotFound
	}
	_, err := c.proposeMeta(metaOp{Op: "delete", Account: acc.Name(), Name: name})
	return err
}

// proposeMeta proposes a meta entry on the meta leader and returns its
// result.
func (c *Cluster) proposeMeta(op metaOp) (any, error) {
	g := c.group(metaGroup)
	if g == nil {
		return nil, jsapi.ErrClusterUnavailable
	}
	data, err := json.Marshal(op)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	res, err := g.Propose(ctx, data)
	if err != nil {
		return nil, unavailable(err)
	}
	if rerr, ok := res.(error); ok {
		return nil, rerr
	}
	return res, nil
}

// unavailable turns the replication's transient failures into the error
// clients are told to retry on.
func unavailable(err error) error {
	if errors.Is(err, multiraft.ErrNotLeader) || errors.Is(err, multiraft.ErrDropped) ||
		errors.Is(err, multiraft.ErrStopped) || errors.Is(err, context.DeadlineExceeded) {
		return jsapi.ErrClusterUnavailable
	}
	return err
}

// leading returns the replica of a stream this server leads.
func (c *Cluster) leading(acc *broker.Account, stream string) (*replica, error) {
	a := c.meta.lookup(acc.Name(), stream)
	if a == nil {
		return nil, jetstore.ErrStreamNotFound
	}
	r := c.replica(a.Group)
	if r == nil || !r.isLeading() {
		return nil, jsapi.ErrClusterUnavailable
	}
	return r, nil
}

// proposeOnLeader proposes a stream entry on the stream's leader and
// returns its result.
func (c *Cluster) proposeOnLeader(r *replica, data []byte) (any, error) {
	g := r.group.Load()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	res, err := g.Propose(ctx, data)
	if err != nil {
		return nil, unavailable(err)
	}
	if rerr, ok := res.(error); ok {
		return nil, rerr
	}
	return res, nil
}

// Purge purges a stream (its leader), up to what it holds now.
func (c *Cluster) Purge(acc *broker.Account, stream string, req jetstore.PurgeRequest) (uint64, error) {
	r, err := c.leading(acc, stream)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	cfg, upTo := r.config, r.lastSeq
	r.mu.Unlock()
	switch {
	case cfg.DenyPurge:
		return 0, jetstore.ErrPurgeNotPermitted
	case req.Seq > 0 && req.Keep > 0:
		return 0, jetstore.ErrPurgeSeqAndKeep
	}
	res, err := c.proposeOnLeader(r, encodePurge(req, upTo))
	if err != nil {
		return 0, err
	}
	n, _ := res.(uint64)
	return n, nil
}

// DeleteMsg deletes one message (its stream's leader).
func (c *Cluster) DeleteMsg(acc *broker.Account, stream string, seq uint64) error {
	r, err := c.leading(acc, stream)
	if err != nil {
		return err
	}
	r.mu.Lock()
	deny := r.config.DenyDelete
	r.mu.Unlock()
	if deny {
		return jetstore.ErrDeleteNotPermitted
	}
	if _, err := r.st.Get(seq); err != nil {
		return jetstore.ErrStoreEOF
	}
	res, err := c.proposeOnLeader(r, encodeDelete([]jetstore.SeqRange{{First: seq, Last: seq}}))
	if err != nil {
		return err
	}
	if n, _ := res.(uint64); n == 0 {
		return jetstore.ErrStoreEOF
	}
	return nil
}

// AddConsumer creates or updates a consumer on the stream's leader. A
// durable consumer is replicated; an ephemeral one lives on the leader
// only (its clients create it again after a leader change).
func (c *Cluster) AddConsumer(acc *broker.Account, stream string, cfg jetstore.ConsumerConfig, action string) (*jetstore.Consumer, error) {
	r, err := c.leading(acc, stream)
	if err != nil {
		return nil, err
	}
	if cfg.Durable == "" {
		cons, _, err := r.st.AddConsumer(cfg, action)
		return cons, err
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Durable
	}
	r.mu.Lock()
	scfg := r.config
	var old *jetstore.ConsumerConfig
	if rec := r.consumers[cfg.Name]; rec != nil {
		oc := rec.Config
		old = &oc
	}
	count := len(r.consumers)
	r.mu.Unlock()
	norm, err := jetstore.NormalizeConsumerConfig(cfg, scfg)
	if err != nil {
		return nil, err
	}
	changed, err := jetstore.CheckConsumerAction(old, norm, action)
	if err != nil {
		return nil, err
	}
	if !changed {
		return r.st.Consumer(cfg.Name)
	}
	if old == nil && scfg.MaxConsumers > 0 && count >= scfg.MaxConsumers {
		return nil, jetstore.ErrMaxConsumers
	}
	res, err := c.proposeOnLeader(r, encodeJSON(opConsumer, consumerEntry{Name: cfg.Name, Config: norm, Action: action, Created: time.Now().UTC()}))
	if err != nil {
		return nil, err
	}
	cons, ok := res.(*jetstore.Consumer)
	if !ok {
		return nil, jsapi.ErrClusterUnavailable
	}
	return cons, nil
}

// DeleteConsumer deletes a consumer on the stream's leader.
func (c *Cluster) DeleteConsumer(acc *broker.Account, stream, name string) error {
	r, err := c.leading(acc, stream)
	if err != nil {
		return err
	}
	r.mu.Lock()
	_, replicated := r.consumers[name]
	r.mu.Unlock()
	if !replicated {
		return r.st.DeleteConsumer(name)
	}
	_, err = c.proposeOnLeader(r, encodeJSON(opConsumer, consumerEntry{Delete: true, Name: name}))
	return err
}

// ConsumerConfig is a replicated consumer's configuration.
func (c *Cluster) ConsumerConfig(acc *broker.Account, stream, name string) (jetstore.ConsumerConfig, bool) {
	a := c.meta.lookup(acc.Name(), stream)
	if a == nil {
		return jetstore.ConsumerConfig{}, false
	}
	r := c.replica(a.Group)
	if r == nil {
		return jetstore.ConsumerConfig{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec := r.consumers[name]; rec != nil {
		return rec.Config, true
	}
	return jetstore.ConsumerConfig{}, false
}
