package kafka

import (
	"context"
	"fmt"
)

// Permissions is what one user may do with subjects, as the server's
// authorization decides it for NATS clients.
type Permissions interface {
	CanPublish(subject string) bool
	CanSubscribe(subject string) bool
}

// Restrict returns a Backend that applies a user's permissions to the
// account's Backend b, with the subjects NATS clients would need:
// producing to a partition needs publish permission on its subject;
// fetching, listing offsets and long polling need subscribe permission on
// it; creating, deleting and growing a topic need publish permission on
// the JetStream API subject that does the same to its stream
// ($JS.API.STREAM.CREATE.<stream>, .DELETE., .UPDATE.). Committed offsets,
// consumer groups and idempotent producers stay the account's: the
// listener keys them by the Backend that Restrict wraps.
func Restrict(b Backend, p Permissions) Backend { return &restricted{Backend: b, perms: p} }

type restricted struct {
	Backend
	perms Permissions
}

// Unwrap returns the account's Backend.
func (r *restricted) Unwrap() Backend { return r.Backend }

// accountBackend strips Restrict (and any wrapper with Unwrap) to find the
// Backend that identifies an account.
func accountBackend(b Backend) Backend {
	for {
		u, ok := b.(interface{ Unwrap() Backend })
		if !ok {
			return b
		}
		b = u.Unwrap()
	}
}

func (r *restricted) may(publish bool, subject string) error {
	ok := r.perms.CanSubscribe(subject)
	verb := "subscribe to"
	if publish {
		ok, verb = r.perms.CanPublish(subject), "publish to"
	}
	if !ok {
		return fmt.Errorf("%w: may not %s %q", ErrNotAuthorized, verb, subject)
	}
	return nil
}

const jsStreamAPI = "$JS.API.STREAM."

func (r *restricted) CreateTopic(ctx context.Context, name string, partitions int32, cfg TopicConfig) (TopicInfo, error) {
	if err := r.may(true, jsStreamAPI+"CREATE."+StreamName(name)); err != nil {
		return TopicInfo{}, err
	}
	return r.Backend.CreateTopic(ctx, name, partitions, cfg)
}

func (r *restricted) DeleteTopic(ctx context.Context, name string) error {
	if err := r.may(true, jsStreamAPI+"DELETE."+StreamName(name)); err != nil {
		return err
	}
	return r.Backend.DeleteTopic(ctx, name)
}

func (r *restricted) AddPartitions(ctx context.Context, name string, total int32) error {
	if err := r.may(true, jsStreamAPI+"UPDATE."+StreamName(name)); err != nil {
		return err
	}
	return r.Backend.AddPartitions(ctx, name, total)
}

func (r *restricted) Produce(topic string, partition int32, batch ProduceBatch) (func(context.Context) (int64, error), error) {
	if err := r.may(true, PartitionSubject(topic, partition)); err != nil {
		return nil, err
	}
	return r.Backend.Produce(topic, partition, batch)
}

func (r *restricted) Fetch(topic string, partition int32, offset int64, maxBytes int, dst []Record) ([]Record, error) {
	if err := r.may(false, PartitionSubject(topic, partition)); err != nil {
		return dst, err
	}
	return r.Backend.Fetch(topic, partition, offset, maxBytes, dst)
}

func (r *restricted) Offsets(topic string, partition int32) (PartitionOffsets, error) {
	if err := r.may(false, PartitionSubject(topic, partition)); err != nil {
		return PartitionOffsets{}, err
	}
	return r.Backend.Offsets(topic, partition)
}

func (r *restricted) OffsetForTime(topic string, partition int32, ts int64) (int64, int64, bool, error) {
	if err := r.may(false, PartitionSubject(topic, partition)); err != nil {
		return 0, 0, false, err
	}
	return r.Backend.OffsetForTime(topic, partition, ts)
}
