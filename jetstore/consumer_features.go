package jetstore

// RequiredLevel is the JetStream API level the consumer's features need.
func (c *ConsumerConfig) RequiredLevel() int {
	if c.PauseUntil != nil && !c.PauseUntil.IsZero() || c.PriorityPolicy != "" || len(c.PriorityGroups) > 0 || c.PriorityTimeout != 0 {
		return 1
	}
	return 0
}
