// Package mqttgw is the MQTT 3.1.1 gateway. MQTT clients are connections of
// their own kind around the broker's connection core; they share accounts,
// subscriptions and authentication with NATS clients: an MQTT PUBLISH is
// published on the mapped subject, an MQTT subscription is an internal
// subscription that encodes PUBLISH packets. QoS 1 messages, retained
// messages and persistent sessions live in streams of the account's store
// (account.go), reached through typed calls on jetstore.
package mqttgw
