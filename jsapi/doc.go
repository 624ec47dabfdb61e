// Package jsapi is JetStream's side of the wire: the $JS.API request
// handlers of each account, the capture subscriptions that feed published
// messages into streams, the JetStream headers parsed into typed publish
// options, publish acknowledgements, consumer deliveries rendered with their
// $JS.ACK reply subjects and status header blocks, the parsing of acks and
// pull requests, and the one table of API error codes. Storage and the
// consumer engine are jetstore's; jsapi reaches them through typed calls and
// reaches clients through the broker's accounts and publishers.
package jsapi
