package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
)

// JetBackend is the Backend over one account's jetstore.Store. Every call
// into jetstore made on Kafka's behalf is in this file.
//
// A topic is a file stream named after it ('.' becomes '_', since stream
// names cannot hold dots) with one subject per partition, "<topic>.<p>",
// and the metadata "kafka.topic" (the topic's name) and "kafka.topic_id".
// Streams without that metadata are not topics. Kafka offsets are stream
// sequences minus one, so they never change, but a partition's offsets
// have gaps where the stream holds other partitions' messages.
//
// Committed group offsets are a key-value bucket, KAFKA_OFFSETS (stream
// KV_KAFKA_OFFSETS), one key per group, topic and partition, readable with
// `nats kv`: "<group>.<topic>.<partition>", group and topic in unpadded
// URL-safe base64; the value is JSON.
type JetBackend struct {
	store *jetstore.Store
	opts  JetBackendOptions

	mu      sync.Mutex
	waiters map[*jetstore.InMsg]*publishWait
	pending atomic.Int64 // waiters registered, so acks of others skip the lock

	pubMu sync.Mutex
	pubBy map[string]*sync.Mutex // per stream: a batch is queued without interleaving

	offMu     sync.Mutex
	offLoaded bool
	offsets   map[string]map[topicPartition]storedOffset // by group
}

// JetBackendOptions tell the server about streams the backend creates,
// changes or deletes, so that NATS publishes on their subjects are
// captured (wire them to the server's stream subscriptions).
type JetBackendOptions struct {
	StreamCreated func(*jetstore.Stream)
	StreamUpdated func(name string)
	StreamDeleted func(name string)
}

// publishWait collects the acks of one batch of messages.
type publishWait struct {
	remaining int
	first     uint64
	err       error
	done      chan struct{}
}

// NewJetBackend returns the Backend of a store. The store's AckFunc must
// call HandleAcks (OpenJetStore wires that).
func NewJetBackend(store *jetstore.Store, opts JetBackendOptions) *JetBackend {
	return &JetBackend{store: store, opts: opts, waiters: make(map[*jetstore.InMsg]*publishWait),
		pubBy: make(map[string]*sync.Mutex)}
}

// OpenJetStore opens a store whose acks also reach a new JetBackend
// (after opts.Ack, when set).
func OpenJetStore(dir string, opts jetstore.Options, bopts JetBackendOptions) (*jetstore.Store, *JetBackend, error) {
	var b atomic.Pointer[JetBackend]
	next := opts.Ack
	opts.Ack = func(st *jetstore.Stream, msgs []*jetstore.InMsg, acks []jetstore.PublishResult) {
		if jb := b.Load(); jb != nil {
			jb.HandleAcks(st, msgs, acks)
		}
		if next != nil {
			next(st, msgs, acks)
		}
	}
	store, err := jetstore.Open(dir, opts)
	if err != nil {
		return nil, nil, err
	}
	jb := NewJetBackend(store, bopts)
	b.Store(jb)
	return store, jb, nil
}

// HandleAcks receives the store's publish outcomes (chain it into the
// store's AckFunc). Messages not published by the backend cost one atomic
// load per batch.
func (b *JetBackend) HandleAcks(_ *jetstore.Stream, msgs []*jetstore.InMsg, acks []jetstore.PublishResult) {
	if b == nil || b.pending.Load() == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, m := range msgs {
		w := b.waiters[m]
		if w == nil {
			continue
		}
		delete(b.waiters, m)
		b.pending.Add(-1)
		if e := acks[i].Err; e != nil {
			if w.err == nil {
				w.err = storeError(e)
			}
		} else if w.first == 0 || acks[i].Seq < w.first {
			w.first = acks[i].Seq
		}
		if w.remaining--; w.remaining == 0 {
			close(w.done)
		}
	}
}

// storeError maps a store error to the Backend's.
func storeError(err error) error {
	switch {
	case errors.Is(err, jetstore.ErrMessageTooLarge):
		return fmt.Errorf("%w: %v", ErrRecordTooLarge, err)
	case errors.Is(err, jetstore.ErrStreamNotFound):
		return ErrUnknownTopic
	case errors.Is(err, jetstore.ErrIngestQueueFull):
		return fmt.Errorf("%w: %v", ErrBusy, err)
	default:
		return fmt.Errorf("%w: %v", ErrStorage, err)
	}
}

// publish queues messages of one stream next to each other and returns
// their wait. A full ingest queue is retried for a while (back-pressure)
// before the rest is refused.
func (b *JetBackend) publish(st *jetstore.Stream, msgs []*jetstore.InMsg) func(context.Context) (uint64, error) {
	w := &publishWait{remaining: len(msgs), done: make(chan struct{})}
	b.mu.Lock()
	for _, m := range msgs {
		b.waiters[m] = w
	}
	b.pending.Add(int64(len(msgs)))
	b.mu.Unlock()

	lock := b.streamLock(st.Name())
	lock.Lock()
	deadline := time.Now().Add(busyRetry)
	for i := 0; i < len(msgs); {
		err := st.Publish(msgs[i])
		if err == nil {
			i++
			continue
		}
		if errors.Is(err, jetstore.ErrIngestQueueFull) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
			continue
		}
		b.abandon(w, msgs[i:], storeError(err))
		break
	}
	lock.Unlock()
	return func(ctx context.Context) (uint64, error) {
		select {
		case <-w.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		return w.first, w.err
	}
}

// abandon unregisters messages that were never queued.
func (b *JetBackend) abandon(w *publishWait, msgs []*jetstore.InMsg, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		delete(b.waiters, m)
	}
	b.pending.Add(-int64(len(msgs)))
	if w.err == nil {
		w.err = err
	}
	if w.remaining -= len(msgs); w.remaining == 0 {
		close(w.done)
	}
}

func (b *JetBackend) streamLock(name string) *sync.Mutex {
	b.pubMu.Lock()
	defer b.pubMu.Unlock()
	l := b.pubBy[name]
	if l == nil {
		l = new(sync.Mutex)
		b.pubBy[name] = l
	}
	return l
}

// topicInfo describes a stream that is a topic, or fails.
func topicInfo(st *jetstore.Stream) (TopicInfo, bool) {
	cfg := st.Config()
	name := cfg.Metadata[metaTopic]
	if name == "" {
		return TopicInfo{}, false
	}
	info := TopicInfo{Name: name, Partitions: int32(len(cfg.Subjects)), Stream: cfg.Name}
	if id, err := hex.DecodeString(cfg.Metadata[metaTopicID]); err == nil && len(id) == 16 {
		copy(info.ID[:], id)
	}
	if cfg.MaxAge > 0 {
		info.Config.RetentionMs = cfg.MaxAge.Milliseconds()
	}
	if cfg.MaxBytes > 0 {
		info.Config.RetentionBytes = cfg.MaxBytes
	}
	if n, err := strconv.ParseInt(cfg.Metadata[metaMaxMsgSize], 10, 32); err == nil {
		info.Config.MaxMessageSize = int32(n)
	}
	return info, true
}

func (b *JetBackend) topicStream(name string) (*jetstore.Stream, TopicInfo, error) {
	st, err := b.store.Stream(StreamName(name))
	if err != nil {
		return nil, TopicInfo{}, ErrUnknownTopic
	}
	info, ok := topicInfo(st)
	if !ok || info.Name != name {
		return nil, TopicInfo{}, ErrUnknownTopic
	}
	return st, info, nil
}

func (b *JetBackend) partitionStream(topic string, partition int32) (*jetstore.Stream, TopicInfo, error) {
	st, info, err := b.topicStream(topic)
	if err == nil && (partition < 0 || partition >= info.Partitions) {
		err = ErrUnknownTopic
	}
	return st, info, err
}

func (b *JetBackend) CreateTopic(_ context.Context, name string, partitions int32, cfg TopicConfig) (TopicInfo, error) {
	if !ValidTopicName(name) {
		return TopicInfo{}, ErrInvalidTopic
	}
	var id [16]byte
	rand.Read(id[:])
	sc := jetstore.StreamConfig{
		Name:     StreamName(name),
		Subjects: partitionSubjects(name, 0, partitions),
		Storage:  jetstore.StorageFile,
		MaxAge:   time.Duration(cfg.RetentionMs) * time.Millisecond,
		MaxBytes: cfg.RetentionBytes,
		Metadata: map[string]string{metaTopic: name, metaTopicID: hex.EncodeToString(id[:])},
	}
	if cfg.MaxMessageSize > 0 {
		sc.Metadata[metaMaxMsgSize] = strconv.Itoa(int(cfg.MaxMessageSize))
	}
	st, _, err := b.store.AddStream(sc)
	switch {
	case errors.Is(err, jetstore.ErrStreamNameInUse):
		if _, _, terr := b.topicStream(name); terr == nil {
			return TopicInfo{}, ErrTopicExists
		}
		return TopicInfo{}, fmt.Errorf("%w: stream %s exists and is not this topic", ErrTopicExists, sc.Name)
	case errors.Is(err, jetstore.ErrSubjectsOverlap):
		return TopicInfo{}, fmt.Errorf("%w: its subjects %s.* overlap another stream's", ErrInvalidTopic, name)
	case err != nil:
		var ce *jetstore.StreamConfigError
		if errors.As(err, &ce) {
			return TopicInfo{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
		return TopicInfo{}, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	if b.opts.StreamCreated != nil {
		b.opts.StreamCreated(st)
	}
	info, _ := topicInfo(st)
	return info, nil
}

func (b *JetBackend) DeleteTopic(_ context.Context, name string) error {
	st, _, err := b.topicStream(name)
	if err != nil {
		return err
	}
	if err := b.store.DeleteStream(st.Name()); err != nil {
		return storeError(err)
	}
	if b.opts.StreamDeleted != nil {
		b.opts.StreamDeleted(st.Name())
	}
	return nil
}

func (b *JetBackend) AddPartitions(_ context.Context, name string, total int32) error {
	st, info, err := b.topicStream(name)
	if err != nil {
		return err
	}
	if total <= info.Partitions {
		return ErrInvalidPartitions
	}
	cfg := st.Config()
	cfg.Subjects = append(slices.Clone(cfg.Subjects), partitionSubjects(name, info.Partitions, total)...)
	if _, err := b.store.UpdateStream(cfg); err != nil {
		return storeError(err)
	}
	if b.opts.StreamUpdated != nil {
		b.opts.StreamUpdated(st.Name())
	}
	return nil
}

func (b *JetBackend) Topic(name string) (TopicInfo, error) {
	_, info, err := b.topicStream(name)
	return info, err
}

func (b *JetBackend) Topics() []TopicInfo {
	var out []TopicInfo
	for _, st := range b.store.Streams() {
		if info, ok := topicInfo(st); ok && StreamName(info.Name) == st.Name() {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b TopicInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (b *JetBackend) Produce(topic string, partition int32, batch ProduceBatch) (func(context.Context) (int64, error), error) {
	st, info, err := b.partitionStream(topic, partition)
	if err != nil {
		return nil, err
	}
	subject := PartitionSubject(topic, partition)
	size := 0
	for i := range batch.Records {
		n := recordSize(&batch.Records[i])
		if info.Config.MaxMessageSize > 0 && n > int(info.Config.MaxMessageSize) {
			return nil, fmt.Errorf("%w: %d bytes, the topic's max.message.bytes is %d", ErrRecordTooLarge, n, info.Config.MaxMessageSize)
		}
		size += n + 64
	}
	hdrs := make([]byte, 0, size)
	msgs := make([]*jetstore.InMsg, len(batch.Records))
	for i := range batch.Records {
		r := &batch.Records[i]
		var mark *producerMark
		if batch.ProducerID >= 0 && i == len(batch.Records)-1 {
			mark = &producerMark{batch.ProducerID, batch.ProducerEpoch, batch.FirstSequence, lastSequence(batch.FirstSequence, len(batch.Records))}
		}
		start := len(hdrs)
		hdrs = appendRecordHeader(hdrs, r, mark)
		msgs[i] = &jetstore.InMsg{Subject: subject, Header: hdrs[start:len(hdrs):len(hdrs)], Data: r.Value}
	}
	wait := b.publish(st, msgs)
	return func(ctx context.Context) (int64, error) {
		first, err := wait(ctx)
		return int64(first) - 1, err
	}, nil
}

func (b *JetBackend) Fetch(topic string, partition int32, offset int64, maxBytes int, dst []Record) ([]Record, error) {
	st, _, err := b.partitionStream(topic, partition)
	if err != nil {
		return dst, err
	}
	subject := PartitionSubject(topic, partition)
	var arena []RecordHeader
	size := 0
	for seq := uint64(offset) + 1; ; {
		m, err := st.NextBySubject(seq, subject)
		if err != nil {
			break // nothing more (ErrNoMessageFound) or the stream went away
		}
		r := decodeMessage(m.Header, m.Data, m.Time.UnixMilli(), int64(m.Seq)-1, &arena)
		n := recordSize(&r)
		if len(dst) > 0 && size+n > maxBytes {
			break
		}
		dst = append(dst, r)
		size += n
		seq = m.Seq + 1
	}
	return dst, nil
}

func (b *JetBackend) Offsets(topic string, partition int32) (PartitionOffsets, error) {
	st, _, err := b.partitionStream(topic, partition)
	if err != nil {
		return PartitionOffsets{}, err
	}
	subject := PartitionSubject(topic, partition)
	last, err := st.LastBySubject(subject)
	if err != nil {
		// Empty: both bounds sit just below the stream's first sequence,
		// which never goes back, so the high watermark never falls.
		first := st.State("", false).FirstSeq
		hw := int64(max(first, 1)) - 1
		return PartitionOffsets{LogStart: hw, HighWatermark: hw}, nil
	}
	po := PartitionOffsets{HighWatermark: int64(last.Seq), LogStart: int64(last.Seq) - 1}
	if first, err := st.NextBySubject(0, subject); err == nil {
		po.LogStart = int64(first.Seq) - 1
	}
	return po, nil
}

// OffsetForTime searches by the time the stream stored each message,
// which only grows with the sequence.
func (b *JetBackend) OffsetForTime(topic string, partition int32, ts int64) (int64, int64, bool, error) {
	st, _, err := b.partitionStream(topic, partition)
	if err != nil {
		return 0, 0, false, err
	}
	subject := PartitionSubject(topic, partition)
	last, err := st.LastBySubject(subject)
	if err != nil || last.Time.UnixMilli() < ts {
		return 0, 0, false, nil
	}
	// The smallest x whose next message is stored at or after ts; the
	// answer is that message.
	lo, hi := uint64(1), last.Seq
	for lo < hi {
		mid := lo + (hi-lo)/2
		m, err := st.NextBySubject(mid, subject)
		if err != nil || m.Time.UnixMilli() >= ts {
			hi = mid
		} else {
			lo = max(mid, m.Seq) + 1
		}
	}
	m, err := st.NextBySubject(lo, subject)
	if err != nil {
		return 0, 0, false, nil
	}
	var arena []RecordHeader
	r := decodeMessage(m.Header, m.Data, m.Time.UnixMilli(), int64(m.Seq)-1, &arena)
	return r.Offset, r.Timestamp, true, nil
}

func (b *JetBackend) Watch(topic string) (<-chan struct{}, func(), error) {
	st, _, err := b.topicStream(topic)
	if err != nil {
		return nil, nil, err
	}
	ch, stop := st.Watch()
	return ch, stop, nil
}

func (b *JetBackend) LastProducerBatch(topic string, partition int32, producerID int64) (ProducerBatchPosition, bool, error) {
	st, _, err := b.partitionStream(topic, partition)
	if err != nil {
		return ProducerBatchPosition{}, false, err
	}
	subject := PartitionSubject(topic, partition)
	last, err := st.LastBySubject(subject)
	if err != nil {
		return ProducerBatchPosition{}, false, nil
	}
	for seq, n := last.Seq, 0; seq > 0 && n < producerScanLimit; seq, n = seq-1, n+1 {
		m, err := st.Get(seq)
		if err != nil || m.Subject != subject {
			continue
		}
		if mark, ok := parseProducerMark(parser.HeaderValue(m.Header, hdrProducer)); ok && mark.id == producerID {
			return ProducerBatchPosition{Epoch: mark.epoch, FirstSequence: mark.first, LastSequence: mark.last,
				LastOffset: int64(m.Seq) - 1}, true, nil
		}
	}
	return ProducerBatchPosition{}, false, nil
}

// offsetsStreamFor returns the offsets bucket's stream, creating it.
func (b *JetBackend) offsetsStreamFor() (*jetstore.Stream, error) {
	st, err := b.store.Stream(offsetsStream)
	if err == nil {
		return st, nil
	}
	st, created, err := b.store.AddStream(jetstore.StreamConfig{
		Name: offsetsStream, Subjects: []string{offsetsPrefix + ">"}, Storage: jetstore.StorageFile,
		MaxMsgsPerSubject: 1, Discard: jetstore.DiscardNew, AllowRollup: true, DenyDelete: true, AllowDirect: true,
		Description: "Kafka consumer group offsets",
	})
	if err != nil {
		if errors.Is(err, jetstore.ErrStreamNameInUse) {
			return b.store.Stream(offsetsStream)
		}
		return nil, storeError(err)
	}
	if created && b.opts.StreamCreated != nil {
		b.opts.StreamCreated(st)
	}
	return st, nil
}

// loadOffsetsLocked reads the bucket once.
func (b *JetBackend) loadOffsetsLocked() error {
	if b.offLoaded {
		return nil
	}
	b.offsets = make(map[string]map[topicPartition]storedOffset)
	st, err := b.store.Stream(offsetsStream)
	if err == nil {
		for seq := uint64(1); ; {
			m, err := st.NextBySubject(seq, ">")
			if err != nil {
				break
			}
			seq = m.Seq + 1
			var v offsetValue
			if json.Unmarshal(m.Data, &v) != nil {
				continue
			}
			b.rememberLocked(v, m.Seq)
		}
	}
	b.offLoaded = true
	return nil
}

func (b *JetBackend) rememberLocked(v offsetValue, seq uint64) {
	g := b.offsets[v.Group]
	if g == nil {
		g = make(map[topicPartition]storedOffset)
		b.offsets[v.Group] = g
	}
	k := topicPartition{v.Topic, v.Partition}
	if old, ok := g[k]; ok && old.seq > seq {
		return
	}
	g[k] = storedOffset{CommittedOffset{Topic: v.Topic, Partition: v.Partition, Offset: v.Offset,
		LeaderEpoch: v.LeaderEpoch, Metadata: v.Metadata, CommittedAt: v.Committed}, seq}
}

func (b *JetBackend) CommitOffsets(ctx context.Context, group string, offsets []CommittedOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	st, err := b.offsetsStreamFor()
	if err != nil {
		return err
	}
	vals := make([]offsetValue, len(offsets))
	msgs := make([]*jetstore.InMsg, len(offsets))
	for i, o := range offsets {
		vals[i] = offsetValue{Group: group, Topic: o.Topic, Partition: o.Partition, Offset: o.Offset,
			LeaderEpoch: o.LeaderEpoch, Metadata: o.Metadata, Committed: o.CommittedAt.UTC()}
		data, _ := json.Marshal(vals[i])
		msgs[i] = &jetstore.InMsg{Subject: offsetKey(group, o.Topic, o.Partition), Data: data}
	}
	first, err := b.publish(st, msgs)(ctx)
	if err != nil {
		return err
	}
	b.offMu.Lock()
	defer b.offMu.Unlock()
	if err := b.loadOffsetsLocked(); err != nil {
		return err
	}
	for i, v := range vals {
		// Sequences of one publish are ascending from first (the bucket
		// has no other writer in between that matters for ordering).
		b.rememberLocked(v, first+uint64(i))
	}
	return nil
}

func (b *JetBackend) CommittedOffsets(group string) ([]CommittedOffset, error) {
	b.offMu.Lock()
	defer b.offMu.Unlock()
	if err := b.loadOffsetsLocked(); err != nil {
		return nil, err
	}
	var out []CommittedOffset
	for _, o := range b.offsets[group] {
		out = append(out, o.CommittedOffset)
	}
	slices.SortFunc(out, func(a, b CommittedOffset) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return out, nil
}

func (b *JetBackend) OffsetGroups() ([]string, error) {
	b.offMu.Lock()
	defer b.offMu.Unlock()
	if err := b.loadOffsetsLocked(); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(b.offsets))
	for g := range b.offsets {
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}
