package jetstore

import (
	"time"
)

// rateLimit paces a push consumer to its rate_limit_bps (bits per second
// of message subject, header and data): every delivery books its share of
// the rate, and the next one waits until the booked time has passed.
//
// Guarded by Consumer.mu.
type rateLimit struct {
	free time.Time // when the rate is free again
}

// rateWaitLocked returns how long a delivery of size bytes must wait; when
// it need not, the delivery is booked.
func (c *Consumer) rateWaitLocked(size int, now time.Time) time.Duration {
	bps := c.cfg.RateLimit
	if bps == 0 || c.cfg.isPull() {
		return 0
	}
	if wait := c.rate.free.Sub(now); wait > 0 {
		return wait
	}
	cost := time.Duration(float64(size*8) / float64(bps) * float64(time.Second))
	c.rate.free = now.Add(cost)
	return 0
}
