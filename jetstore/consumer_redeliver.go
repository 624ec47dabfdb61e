package jetstore

// RedeliverPending makes every delivered but unacknowledged message due for
// redelivery now instead of after its ack wait. A protocol bridge calls it
// when the client that owns the consumer comes back (an MQTT session
// resuming must resend unacknowledged messages at once [MQTT-4.4.0-1]).
func (c *Consumer) RedeliverPending() {
	c.mu.Lock()
	for seq, p := range c.pending {
		// Due at the epoch rather than now: a delivery pass that started
		// a moment ago (with an earlier "now") must see them due too, or
		// it would send a new message first. Equal deadlines go in stream
		// order.
		c.setDeadlineLocked(seq, p, 0)
	}
	c.mu.Unlock()
	c.kick()
}
