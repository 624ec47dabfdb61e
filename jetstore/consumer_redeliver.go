package jetstore

import "time"

// RedeliverPending makes every delivered but unacknowledged message due for
// redelivery now instead of after its ack wait. A protocol bridge calls it
// when the client that owns the consumer comes back (an MQTT session
// resuming must resend unacknowledged messages at once [MQTT-4.4.0-1]).
func (c *Consumer) RedeliverPending() {
	now := time.Now().UnixNano()
	c.mu.Lock()
	for seq, p := range c.pending {
		c.setDeadlineLocked(seq, p, now)
	}
	c.mu.Unlock()
	c.kick()
}
