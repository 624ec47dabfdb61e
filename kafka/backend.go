package kafka

import (
	"context"
	"errors"
	"time"
)

// Backend is the listener's view of one account's streams: the few
// operations Kafka requests need, declared here so that the listener does
// not depend on how streams are stored. Authenticate returns one Backend
// per account; users of the same account must get the same Backend value
// (consumer groups are kept per Backend).
//
// Topic names reaching a Backend are valid Kafka topic names (checked by
// ValidTopicName). Partitions are numbered from 0. Offsets are the Kafka
// offsets of the mapping described in the package documentation.
type Backend interface {
	// CreateTopic creates a topic with the given number of partitions.
	// It returns ErrTopicExists when the topic exists.
	CreateTopic(ctx context.Context, name string, partitions int32, cfg TopicConfig) (TopicInfo, error)
	// DeleteTopic deletes a topic and its records.
	DeleteTopic(ctx context.Context, name string) error
	// AddPartitions raises a topic's partition count to total.
	AddPartitions(ctx context.Context, name string, total int32) error
	// Topic describes one topic, or returns ErrUnknownTopic.
	Topic(name string) (TopicInfo, error)
	// Topics describes every topic, sorted by name.
	Topics() []TopicInfo

	// Produce queues records for a partition, in order, and returns at
	// once; wait reports the offset of the first record once every record
	// is durable under the stream's sync policy, or the error that stopped
	// them. Records of one call are appended next to each other unless
	// another protocol publishes into the same stream at that moment. err
	// is a refusal before anything was queued.
	Produce(topic string, partition int32, batch ProduceBatch) (wait func(context.Context) (baseOffset int64, err error), err error)
	// Fetch appends to dst the records of a partition from offset on, up
	// to about maxBytes of keys, values and headers; the first record is
	// returned even when it alone is larger.
	Fetch(topic string, partition int32, offset int64, maxBytes int, dst []Record) ([]Record, error)
	// Offsets returns a partition's log start offset and high watermark.
	Offsets(topic string, partition int32) (PartitionOffsets, error)
	// OffsetForTime returns the first record stored at or after ts
	// (milliseconds since the epoch) and its timestamp; found is false
	// when there is none.
	OffsetForTime(topic string, partition int32, ts int64) (offset, timestamp int64, found bool, err error)
	// Watch returns a channel that receives a (coalesced) signal when new
	// records of the topic become readable, and a function to stop.
	Watch(topic string) (<-chan struct{}, func(), error)
	// LastProducerBatch recovers an idempotent producer's last durable
	// batch on a partition (after a restart, or a failed batch), searching
	// a bounded number of recent records; found is false when none is seen.
	LastProducerBatch(topic string, partition int32, producerID int64) (pos ProducerBatchPosition, found bool, err error)

	OffsetStore
}

// OffsetStore keeps consumer groups' committed offsets durably.
type OffsetStore interface {
	// CommitOffsets stores offsets of a group; it returns once they are
	// durable.
	CommitOffsets(ctx context.Context, group string, offsets []CommittedOffset) error
	// CommittedOffsets returns every offset committed by a group.
	CommittedOffsets(group string) ([]CommittedOffset, error)
	// OffsetGroups lists the groups that have committed offsets.
	OffsetGroups() ([]string, error)
}

// TopicConfig is the subset of Kafka topic configuration a stream carries.
// Zero values mean "no limit".
type TopicConfig struct {
	RetentionMs    int64 // retention.ms: records older than this are removed
	RetentionBytes int64 // retention.bytes: applies to the whole topic
	MaxMessageSize int32 // max.message.bytes: per record (key, value, headers)
}

// TopicInfo describes one topic.
type TopicInfo struct {
	Name       string
	ID         [16]byte
	Partitions int32
	Config     TopicConfig
	Stream     string // the stream holding it, for logs and documentation
}

// PartitionOffsets are a partition's bounds: the offset of its oldest
// record (LogStart) and one past its newest (HighWatermark). Both equal
// the high watermark when the partition holds no record.
type PartitionOffsets struct {
	LogStart      int64
	HighWatermark int64
}

// Record is one Kafka record. Nil Key or Value is Kafka's null.
type Record struct {
	Offset    int64 // set by Fetch
	Timestamp int64 // milliseconds since the epoch
	Key       []byte
	Value     []byte
	Headers   []RecordHeader
}

// RecordHeader is one Kafka record header; a nil Value is null.
type RecordHeader struct {
	Key   string
	Value []byte
}

// ProduceBatch is what one Produce appends: records and, for idempotent
// producers, the producer's identity and the first record's sequence.
type ProduceBatch struct {
	Records       []Record
	ProducerID    int64 // -1 without an idempotent producer
	ProducerEpoch int16
	FirstSequence int32
}

// ProducerBatchPosition is where an idempotent producer's last batch on a
// partition ended.
type ProducerBatchPosition struct {
	Epoch         int16
	FirstSequence int32
	LastSequence  int32
	LastOffset    int64 // of the batch's last record
}

// CommittedOffset is one committed position of a group.
type CommittedOffset struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    string
	CommittedAt time.Time
}

// Errors a Backend returns for conditions with a Kafka error code. Others
// are answered as KAFKA_STORAGE_ERROR or UNKNOWN_SERVER_ERROR.
var (
	ErrUnknownTopic      = errors.New("kafka: unknown topic or partition")
	ErrTopicExists       = errors.New("kafka: topic already exists")
	ErrInvalidTopic      = errors.New("kafka: invalid topic")
	ErrInvalidPartitions = errors.New("kafka: invalid number of partitions")
	ErrOffsetOutOfRange  = errors.New("kafka: offset out of range")
	ErrRecordTooLarge    = errors.New("kafka: record too large")
	ErrInvalidConfig     = errors.New("kafka: invalid topic configuration")
	ErrNotAuthorized     = errors.New("kafka: not authorized")
	ErrStorage           = errors.New("kafka: storage error")
	ErrBusy              = errors.New("kafka: stream busy, retry")
)

// MaxTopicNameLen is Kafka's limit on topic names.
const MaxTopicNameLen = 249

// ValidTopicName reports whether name is a Kafka topic name that maps onto
// subjects: ASCII letters, digits, '.', '_' and '-', at most 249 bytes,
// with no empty dot-separated part (so "a..b", ".a" and "a." are refused).
func ValidTopicName(name string) bool {
	if name == "" || len(name) > MaxTopicNameLen || name[0] == '.' || name[len(name)-1] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
		case c == '.':
			if name[i+1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return true
}
