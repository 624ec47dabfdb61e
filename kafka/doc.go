// Package kafka owns midge's Kafka wire-protocol listener: the framing and
// version negotiation of the Kafka protocol (requests and responses
// encoded by kmsg), record batches and their compression, produce and
// fetch with their durability and long-polling rules, topic
// administration, the consumer-group coordinator, idempotent producers and
// SASL PLAIN. It reaches streams only through the Backend interface it
// declares; JetBackend implements it over an account's Streams (the
// JetStream layer's typed calls, so that Kafka's streams are attached like
// any other and its records published like a NATS client's), mapping a
// topic onto a stream and a partition onto one of its subjects (see
// mapping.go and jetbackend.go). It imports nothing of the server: the
// server gives it a listen address, a logger and the functions that map
// clients onto their account's Backend, and reads Stats.
package kafka
