package kafka

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"
)

// Names JetBackend gives to what it stores: streams of topics, their
// subjects, and the keys and values of the offsets bucket.

// Names of the offsets bucket and the topic metadata keys.
const (
	offsetsBucket  = "KAFKA_OFFSETS"
	offsetsStream  = "KV_" + offsetsBucket
	offsetsPrefix  = "$KV." + offsetsBucket + "."
	metaTopic      = "kafka.topic"
	metaTopicID    = "kafka.topic_id"
	metaMaxMsgSize = "kafka.max_message_bytes"
	// producerScanLimit bounds the messages read back to find an
	// idempotent producer's last sequence.
	producerScanLimit = 10000
	// busyRetry bounds how long a full ingest queue holds a produce back.
	busyRetry = 5 * time.Second
)

type topicPartition struct {
	topic     string
	partition int32
}

type storedOffset struct {
	CommittedOffset
	seq uint64 // of the KV message, to keep the newest of racing commits
}

// StreamName is the stream that holds a topic.
func StreamName(topic string) string { return strings.ReplaceAll(topic, ".", "_") }

func partitionSubjects(topic string, from, to int32) []string {
	out := make([]string, 0, to-from)
	for p := from; p < to; p++ {
		out = append(out, PartitionSubject(topic, p))
	}
	return out
}

// offsetValue is a committed offset as the bucket stores it.
type offsetValue struct {
	Group       string    `json:"group"`
	Topic       string    `json:"topic"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
	LeaderEpoch int32     `json:"leader_epoch"`
	Metadata    string    `json:"metadata,omitempty"`
	Committed   time.Time `json:"committed"`
}

func offsetKey(group, topic string, partition int32) string {
	return offsetsPrefix + base64.RawURLEncoding.EncodeToString([]byte(group)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(topic)) + "." + strconv.Itoa(int(partition))
}
