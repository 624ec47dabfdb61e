package bench

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Key-value scenarios on a bucket named by --stream. Keys are decimal
// numbers 0..Msgs-1; client i owns a contiguous range of them, so puts never
// overwrite each other and the bucket's value count must equal the puts
// acknowledged.

// freshBucket makes the bucket empty: an update of its configuration and a
// purge of its stream when possible, else a delete and a create.
func (r *run) freshBucket(js jetstream.JetStream) (jetstream.KeyValue, error) {
	ctx, cancel := r.opCtx()
	defer cancel()
	cfg := jetstream.KeyValueConfig{Bucket: r.cfg.Stream, Storage: r.storage(), History: 1}
	kv, err := js.CreateOrUpdateKeyValue(ctx, cfg)
	if err == nil {
		st, err := js.Stream(ctx, "KV_"+r.cfg.Stream)
		if err == nil {
			err = st.Purge(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("purging bucket %s: %w", r.cfg.Stream, err)
		}
		return kv, nil
	}
	err = js.DeleteKeyValue(ctx, r.cfg.Stream)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("deleting bucket %s: %w", r.cfg.Stream, err)
	}
	if kv, err = js.CreateKeyValue(ctx, cfg); err != nil {
		return nil, fmt.Errorf("creating bucket %s: %w", r.cfg.Stream, err)
	}
	return kv, nil
}

// buckets connects n clients and opens the bucket on each.
func (r *run) buckets(role string, n int) ([]jetstream.KeyValue, error) {
	jss, err := r.jetStreams(role, n)
	if err != nil {
		return nil, err
	}
	kvs := make([]jetstream.KeyValue, n)
	for i, js := range jss {
		ctx, cancel := r.opCtx()
		kvs[i], err = js.KeyValue(ctx, r.cfg.Stream)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("opening bucket %s: %w", r.cfg.Stream, err)
		}
	}
	return kvs, nil
}

// kvSetup connects the admin client and makes the bucket empty.
func (r *run) kvSetup() (jetstream.JetStream, jetstream.KeyValue, error) {
	admin, err := r.connect("admin")
	if err != nil {
		return nil, nil, err
	}
	js, err := r.jetStream(admin)
	if err != nil {
		return nil, nil, err
	}
	kv, err := r.freshBucket(js)
	return js, kv, err
}

func runKVPut(r *run) error {
	pubs := r.meters("putters", "put to ack", r.cfg.Pubs)
	_, kv, err := r.kvSetup()
	if err != nil {
		return err
	}
	kvs, err := r.buckets("putter", r.cfg.Pubs)
	if err != nil {
		return err
	}
	total := r.phaseTotal()
	r.samp.setPhase("put", total, pubs)
	lost := r.eachKVClient(kvs, pubs, r.kvPut)
	acked := sum(pubs)
	r.account(acked+lost, acked)
	// Distinct keys written: a duration-bounded putter wraps around its range.
	var keys int64
	for i, share := range perClient(r.cfg.Msgs, r.cfg.Pubs) {
		keys += min(pubs[i].count(), int64(share))
	}
	ctx, cancel := r.opCtx()
	defer cancel()
	status, err := kv.Status(ctx)
	if err != nil {
		r.fail("bucket status: %v", err)
	} else if status.Values() != uint64(keys) {
		r.fail("bucket %s holds %d values, %d keys were put", r.cfg.Stream, status.Values(), keys)
	}
	return nil
}

func runKVGet(r *run) error {
	subs := r.meters("getters", "get round trip", r.cfg.Subs)
	js, _, err := r.kvSetup()
	if err != nil {
		return err
	}
	prefix := "$KV." + r.cfg.Stream + "."
	if err := r.fill(js, r.cfg.Msgs, func(i int) string { return prefix + strconv.Itoa(i) }); err != nil {
		return err
	}
	kvs, err := r.buckets("getter", r.cfg.Subs)
	if err != nil {
		return err
	}
	r.samp.setPhase("get", int64(r.cfg.Msgs), subs)
	lost := r.eachKVClient(kvs, subs, r.kvGet)
	got := sum(subs)
	want := int64(r.cfg.Msgs)
	if r.cfg.Duration > 0 {
		want = got + lost
	}
	r.account(want, got)
	return nil
}

type kvOp func(kv jetstream.KeyValue, m *meter, first, n int, deadline time.Time) (failed int64)

// eachKVClient runs op on every client at once, client i on its own key
// range, and returns the failed operations.
func (r *run) eachKVClient(kvs []jetstream.KeyValue, ms []*meter, op kvOp) int64 {
	shares := perClient(r.cfg.Msgs, len(kvs))
	failed := make([]int64, len(kvs))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	first := 0
	for i, kv := range kvs {
		wg.Add(1)
		go func(first int) {
			defer wg.Done()
			<-gate
			start := time.Now()
			failed[i] = op(kv, ms[i], first, shares[i], r.deadline())
			ms[i].sent(start, time.Now(), ms[i].count(), r.cfg.Size)
		}(first)
		first += shares[i]
	}
	close(gate)
	wg.Wait()
	var total int64
	for _, f := range failed {
		total += f
	}
	return total
}

// kvPut puts keys first..first+n-1 (in duration mode it goes on past them,
// wrapping within its range). It stops at the first failure.
func (r *run) kvPut(kv jetstream.KeyValue, m *meter, first, n int, deadline time.Time) int64 {
	value := make([]byte, r.cfg.Size)
	limit := n
	if !deadline.IsZero() {
		limit = math.MaxInt
	}
	for i := 0; i < limit && n > 0 && !r.stopping(deadline); i++ {
		t0 := time.Now()
		if _, err := kv.Put(r.ctx, strconv.Itoa(first+i%n), value); err != nil {
			r.fail("%s: put: %v", m.role, err)
			return 1
		}
		m.observe(time.Since(t0))
		m.n.Add(1)
	}
	return 0
}

// kvGet reads keys first..first+n-1 and checks each value's size; a
// missing key counts as lost.
func (r *run) kvGet(kv jetstream.KeyValue, m *meter, first, n int, deadline time.Time) int64 {
	var failed int64
	for i := 0; i < n && !r.stopping(deadline); i++ {
		t0 := time.Now()
		e, err := kv.Get(r.ctx, strconv.Itoa(first+i))
		if err != nil {
			r.fail("%s: get: %v", m.role, err)
			failed++
			if !errors.Is(err, jetstream.ErrKeyNotFound) {
				return failed
			}
			continue
		}
		m.observe(time.Since(t0))
		if len(e.Value()) != r.cfg.Size {
			r.fail("%s: value of %d bytes, %d were put", m.role, len(e.Value()), r.cfg.Size)
		}
		m.n.Add(1)
	}
	return failed
}
