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
	"time"

	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/parser"
)

// Streams is one account's JetStream as JetBackend reaches it: typed
// calls into the JetStream layer, which the server provides (jsapi's
// AccountStreams). Streams created, updated and deleted through it are
// attached like any stream (their subjects captured, so NATS and MQTT
// publishes on a partition's subject are stored); Publish delivers like a
// NATS client's publish, so core subscribers see Kafka records too, and
// reports each message's outcome through its Done once durable. The
// *jetstore.Stream values Stream and Streams return are only read: the
// backend keeps them as a streamReader.
type Streams interface {
	CreateStream(cfg jetstore.StreamConfig) (st *jetstore.Stream, created bool, err error)
	UpdateStream(cfg jetstore.StreamConfig) (*jetstore.Stream, error)
	DeleteStream(name string) error
	Stream(name string) (*jetstore.Stream, error)
	Streams() []*jetstore.Stream
	Publish(stream string, msgs []*jetstore.InMsg, wait time.Duration) (queued int, err error)
}

// streamReader is the read side of a stream, all the backend uses of one.
type streamReader interface {
	Name() string
	Config() jetstore.StreamConfig
	State(subjectsFilter string, deletedDetails bool) jetstore.StreamState
	Get(seq uint64) (*jetstore.StoredMsg, error)
	NextBySubject(from uint64, filter string) (*jetstore.StoredMsg, error)
	LastBySubject(filter string) (*jetstore.StoredMsg, error)
	Watch() (<-chan struct{}, func())
}

// JetBackend is the Backend over one account's Streams. Every call into
// jetstore made on Kafka's behalf is in this file.
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
	streams Streams

	offMu     sync.Mutex
	offLoaded bool
	offsets   map[string]map[topicPartition]storedOffset // by group
}

// publishWait collects the outcomes of one batch of messages.
type publishWait struct {
	mu        sync.Mutex
	remaining int
	first     uint64
	err       error
	done      chan struct{}
}

// NewJetBackend returns the Backend of an account's streams.
func NewJetBackend(streams Streams) *JetBackend {
	return &JetBackend{streams: streams}
}

// complete is each message's Done: it runs on the stream's committer.
func (w *publishWait) complete(r jetstore.PublishResult) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.Err != nil {
		if w.err == nil {
			w.err = storeError(r.Err)
		}
	} else if w.first == 0 || r.Seq < w.first {
		w.first = r.Seq
	}
	w.settle(1)
}

// abandon accounts for n messages that were never queued.
func (w *publishWait) abandon(n int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
	w.settle(n)
}

func (w *publishWait) settle(n int) {
	if w.remaining -= n; w.remaining == 0 {
		close(w.done)
	}
}

// storeError maps an error of the JetStream layer to the Backend's.
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

// refusalError maps a publish refused before it was queued. Besides a
// full queue, that is a stream being detached or updated at that moment,
// or JetStream closing: all worth a retry, so clients are told to.
func refusalError(err error) error {
	switch {
	case errors.Is(err, jetstore.ErrStreamNotFound), errors.Is(err, jetstore.ErrMessageTooLarge):
		return storeError(err)
	default:
		return fmt.Errorf("%w: %v", ErrBusy, err)
	}
}

// publish queues messages of one stream next to each other and returns
// their wait. A full ingest queue is waited on for a while (back-pressure)
// before the rest is refused.
func (b *JetBackend) publish(stream string, msgs []*jetstore.InMsg) func(context.Context) (uint64, error) {
	w := &publishWait{remaining: len(msgs), done: make(chan struct{})}
	if len(msgs) == 0 {
		close(w.done)
	}
	done := w.complete
	for _, m := range msgs {
		m.Done = done
	}
	if queued, err := b.streams.Publish(stream, msgs, busyRetry); err != nil {
		w.abandon(len(msgs)-queued, refusalError(err))
	}
	return func(ctx context.Context) (uint64, error) {
		select {
		case <-w.done:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.first, w.err
	}
}

// topicInfo describes a stream that is a topic, or fails.
func topicInfo(st streamReader) (TopicInfo, bool) {
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

func (b *JetBackend) topicStream(name string) (streamReader, TopicInfo, error) {
	st, err := b.streams.Stream(StreamName(name))
	if err != nil {
		return nil, TopicInfo{}, ErrUnknownTopic
	}
	info, ok := topicInfo(st)
	if !ok || info.Name != name {
		return nil, TopicInfo{}, ErrUnknownTopic
	}
	return st, info, nil
}

func (b *JetBackend) partitionStream(topic string, partition int32) (streamReader, TopicInfo, error) {
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
	st, _, err := b.streams.CreateStream(sc)
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
	info, _ := topicInfo(st)
	return info, nil
}

func (b *JetBackend) DeleteTopic(_ context.Context, name string) error {
	st, _, err := b.topicStream(name)
	if err != nil {
		return err
	}
	if err := b.streams.DeleteStream(st.Name()); err != nil {
		return storeError(err)
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
	if _, err := b.streams.UpdateStream(cfg); err != nil {
		return storeError(err)
	}
	return nil
}

func (b *JetBackend) Topic(name string) (TopicInfo, error) {
	_, info, err := b.topicStream(name)
	return info, err
}

func (b *JetBackend) Topics() []TopicInfo {
	var out []TopicInfo
	for _, st := range b.streams.Streams() {
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
	wait := b.publish(st.Name(), msgs)
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

// ensureOffsetsStream creates the offsets bucket's stream when missing.
func (b *JetBackend) ensureOffsetsStream() error {
	if _, err := b.streams.Stream(offsetsStream); err == nil {
		return nil
	}
	_, _, err := b.streams.CreateStream(jetstore.StreamConfig{
		Name: offsetsStream, Subjects: []string{offsetsPrefix + ">"}, Storage: jetstore.StorageFile,
		MaxMsgsPerSubject: 1, Discard: jetstore.DiscardNew, AllowRollup: true, DenyDelete: true, AllowDirect: true,
		Description: "Kafka consumer group offsets",
	})
	if err != nil && !errors.Is(err, jetstore.ErrStreamNameInUse) {
		return storeError(err)
	}
	return nil
}

// loadOffsetsLocked reads the bucket once.
func (b *JetBackend) loadOffsetsLocked() error {
	if b.offLoaded {
		return nil
	}
	b.offsets = make(map[string]map[topicPartition]storedOffset)
	st, err := b.streams.Stream(offsetsStream)
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
	if err := b.ensureOffsetsStream(); err != nil {
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
	first, err := b.publish(offsetsStream, msgs)(ctx)
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
