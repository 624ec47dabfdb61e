// Package testutil starts an in-process midge on free loopback ports and
// drives it: nats.go connections, raw-TCP wire clients, monitoring requests,
// JetStream clients and generated TLS certificates. It is imported by the
// external tests (package x_test) of several packages, never by midge's code.
package testutil
