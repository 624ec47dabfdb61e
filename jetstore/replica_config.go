package jetstore

// Configuration checks for a cluster's meta layer, which validates stream
// and consumer configurations before it replicates them, without a store.

// MaxReplicas is the largest replication factor a stream may ask for.
const MaxReplicas = 5

// NormalizeConfig validates a stream configuration and fills in its
// defaults as AddStream does, except that it accepts 1 to MaxReplicas
// replicas (num_replicas 0 means 1). reserved are subjects a stream may
// capture only without acks.
func NormalizeConfig(cfg StreamConfig, reserved []string) (StreamConfig, error) {
	replicas := cfg.Replicas
	switch {
	case replicas == 0:
		replicas = 1
	case replicas < 0 || replicas > MaxReplicas:
		return cfg, errStreamConfig("replicas > %d not supported", MaxReplicas)
	}
	cfg.Replicas = 1
	out, err := cfg.normalize(reserved)
	if err != nil {
		return out, err
	}
	out.Replicas = replicas
	return out, nil
}

// Overlaps reports whether two configurations capture a common subject.
func (c StreamConfig) Overlaps(o StreamConfig) bool { return c.overlaps(&o) }

// NormalizeConsumerConfig validates a consumer configuration against its
// stream's and fills in its defaults as AddConsumer does.
func NormalizeConsumerConfig(cfg ConsumerConfig, stream StreamConfig) (ConsumerConfig, error) {
	stream.Replicas = 1
	return normalizeConsumer(cfg, &stream)
}

// CheckConsumerAction decides, before a replicated consumer change is
// proposed, what AddConsumer would decide about it: next (normalised)
// against the existing configuration old (nil: none) under action. It
// returns whether anything changes.
func CheckConsumerAction(old *ConsumerConfig, next ConsumerConfig, action string) (bool, error) {
	if old == nil {
		if action == ActionUpdate {
			return false, ErrConsumerDoesNotExist
		}
		return true, nil
	}
	if sameConsumerConfig(*old, next) {
		return false, nil
	}
	if action == ActionCreate {
		return false, ErrConsumerExists
	}
	if err := checkConsumerUpdate(old, &next); err != nil {
		return false, err
	}
	return true, nil
}
