// Package jetstore is midge's store and consumer engine.
//
// It owns:
//   - streams: messages stored as checksummed records in block files, or in
//     memory (storage.go), their indexes (by sequence and by subject),
//     limits and retention, deduplication, purges and deletes;
//   - the group-commit pipeline that makes a publish durable before it is
//     acknowledged, and recovery after a crash or a failed write;
//   - consumers: their position, acknowledgements, redelivery and backoff,
//     pull requests, push flow control and heartbeats, and the durable
//     state of each;
//   - the validation of stream and consumer configurations. The
//     configuration types carry JSON tags because the store persists them
//     as JSON; their shape, and that of StreamState and ConsumerInfo,
//     follows the JetStream API's so that the API layer can pass them on.
//
// It does not own, and knows nothing of:
//   - connections, accounts, or the control subjects of any protocol;
//   - the JetStream wire: headers (publishers' expectations arrive as
//     PublishOptions; a stored message's header is opaque bytes, read back
//     only through the injected Options.MessageID), reply and status
//     subjects (deliveries and status events leave as Delivery and Status
//     values through a Sender; acks arrive as calls such as Consumer.Ack
//     and Consumer.Nak), status lines, or the API's error codes (failures
//     are Go errors: sentinels and types in errors.go).
//
// The caller supplies the environment through Options: the filesystem (so
// tests inject faults), the clock (so tests move time), the logger, where
// publish outcomes go, and a Sender per consumer. The lock order and the
// goroutines are described at the top of stream.go.
package jetstore
