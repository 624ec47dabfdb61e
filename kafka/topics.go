package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic metadata and administration: Metadata, CreateTopics, DeleteTopics,
// CreatePartitions and DescribeConfigs. The listener is a single broker,
// node 0, leader of every partition with no other replica.

const nodeID = 0

// adminTimeout bounds topic administration that the request did not bound.
const adminTimeout = 30 * time.Second

func (c *conn) backend() Backend { return c.be }

func (c *conn) handleMetadata(req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, port := c.srv.advertised(c.nc)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = nodeID, host, port
	resp.Brokers = []kmsg.MetadataResponseBroker{b}
	resp.ClusterID = kmsg.StringPtr(c.srv.cfg.ClusterID)
	resp.ControllerID = nodeID

	all := req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0)
	if all {
		for _, t := range c.backend().Topics() {
			resp.Topics = append(resp.Topics, topicMetadata(t, errNone))
		}
		return resp
	}
	autoCreate := c.srv.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	for _, rt := range req.Topics {
		var info TopicInfo
		var err error
		switch {
		case rt.Topic != nil:
			info, err = c.topicOrCreate(*rt.Topic, autoCreate)
		default:
			info, err = c.topicByID(rt.TopicID)
		}
		if err != nil {
			t := kmsg.NewMetadataResponseTopic()
			t.Topic, t.TopicID = rt.Topic, rt.TopicID
			t.ErrorCode = errorCode(err)
			resp.Topics = append(resp.Topics, t)
			continue
		}
		resp.Topics = append(resp.Topics, topicMetadata(info, errNone))
	}
	return resp
}

// topicOrCreate looks a topic up, creating it when auto-creation allows.
func (c *conn) topicOrCreate(name string, create bool) (TopicInfo, error) {
	if !ValidTopicName(name) {
		return TopicInfo{}, ErrInvalidTopic
	}
	info, err := c.backend().Topic(name)
	if !errors.Is(err, ErrUnknownTopic) || !create {
		return info, err
	}
	ctx, cancel := context.WithTimeout(c.ctx, adminTimeout)
	defer cancel()
	info, err = c.backend().CreateTopic(ctx, name, c.srv.cfg.DefaultPartitions, TopicConfig{})
	if errors.Is(err, ErrTopicExists) { // created by someone else meanwhile
		return c.backend().Topic(name)
	}
	if err == nil {
		c.srv.log.Info("created Kafka topic on first use", "topic", name, "stream", info.Stream, "partitions", info.Partitions)
	}
	return info, err
}

func (c *conn) topicByID(id [16]byte) (TopicInfo, error) {
	for _, t := range c.backend().Topics() {
		if t.ID == id {
			return t, nil
		}
	}
	return TopicInfo{}, ErrUnknownTopic
}

func topicMetadata(info TopicInfo, code int16) kmsg.MetadataResponseTopic {
	t := kmsg.NewMetadataResponseTopic()
	t.ErrorCode = code
	t.Topic = kmsg.StringPtr(info.Name)
	t.TopicID = info.ID
	for p := int32(0); p < info.Partitions; p++ {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = p
		mp.Leader = nodeID
		mp.LeaderEpoch = 0
		mp.Replicas = []int32{nodeID}
		mp.ISR = []int32{nodeID}
		mp.OfflineReplicas = []int32{}
		t.Partitions = append(t.Partitions, mp)
	}
	return t
}

// requestContext bounds an operation by the request's timeout.
func (c *conn) requestContext(timeoutMillis int32) (context.Context, context.CancelFunc) {
	d := time.Duration(timeoutMillis) * time.Millisecond
	if d <= 0 || d > adminTimeout {
		d = adminTimeout
	}
	return context.WithTimeout(c.ctx, d)
}

func (c *conn) handleCreateTopics(req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	ctx, cancel := c.requestContext(req.TimeoutMillis)
	defer cancel()
	for _, rt := range req.Topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		info, err := c.createTopic(ctx, &rt, req.ValidateOnly)
		if err != nil {
			t.ErrorCode = errorCode(err)
			if req.Version >= 1 {
				t.ErrorMessage = errorMessage(err)
			}
		} else {
			t.TopicID = info.ID
			t.NumPartitions = info.Partitions
			t.ReplicationFactor = 1
			t.Configs = createdConfigs(info.Config)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (c *conn) createTopic(ctx context.Context, rt *kmsg.CreateTopicsRequestTopic, validateOnly bool) (TopicInfo, error) {
	if !ValidTopicName(rt.Topic) {
		return TopicInfo{}, fmt.Errorf("%w: %q (letters, digits, '.', '_', '-'; no empty dot-separated part)", ErrInvalidTopic, rt.Topic)
	}
	partitions := rt.NumPartitions
	if partitions == -1 {
		partitions = c.srv.cfg.DefaultPartitions
	}
	if len(rt.ReplicaAssignment) > 0 {
		partitions = int32(len(rt.ReplicaAssignment))
	}
	if partitions <= 0 || partitions > maxPartitions {
		return TopicInfo{}, fmt.Errorf("%w: %d (1 to %d)", ErrInvalidPartitions, partitions, maxPartitions)
	}
	if rt.ReplicationFactor != -1 && rt.ReplicationFactor != 1 {
		return TopicInfo{}, errReplicationFactor
	}
	cfg, err := parseTopicConfig(rt.Configs)
	if err != nil {
		return TopicInfo{}, err
	}
	if validateOnly {
		if _, err := c.backend().Topic(rt.Topic); err == nil {
			return TopicInfo{}, ErrTopicExists
		}
		return TopicInfo{Name: rt.Topic, Partitions: partitions, Config: cfg}, nil
	}
	info, err := c.backend().CreateTopic(ctx, rt.Topic, partitions, cfg)
	if err == nil {
		c.srv.log.Info("created Kafka topic", "topic", rt.Topic, "stream", info.Stream, "partitions", partitions)
	}
	return info, err
}

// maxPartitions bounds a topic's partitions: each is a subject of the
// stream's configuration.
const maxPartitions = 10000

var errReplicationFactor = fmt.Errorf("%w: replication factor must be 1 (or -1)", errInvalidReplication)

var errInvalidReplication = errors.New("kafka: invalid replication factor")

// parseTopicConfig reads the topic configs a stream can honour and refuses
// the others that would change behaviour.
func parseTopicConfig(configs []kmsg.CreateTopicsRequestTopicConfig) (TopicConfig, error) {
	var cfg TopicConfig
	for _, kv := range configs {
		if kv.Value == nil {
			continue
		}
		v := *kv.Value
		var err error
		switch kv.Name {
		case "retention.ms":
			cfg.RetentionMs, err = strconv.ParseInt(v, 10, 64)
			if cfg.RetentionMs < 0 {
				cfg.RetentionMs = 0 // -1: keep forever
			}
		case "retention.bytes":
			cfg.RetentionBytes, err = strconv.ParseInt(v, 10, 64)
			if cfg.RetentionBytes < 0 {
				cfg.RetentionBytes = 0
			}
		case "max.message.bytes":
			var n int64
			n, err = strconv.ParseInt(v, 10, 32)
			cfg.MaxMessageSize = int32(max(n, 0))
		case "cleanup.policy":
			if v != "delete" {
				return cfg, fmt.Errorf("%w: cleanup.policy %q (only delete)", ErrInvalidConfig, v)
			}
		case "compression.type", "message.timestamp.type", "min.insync.replicas", "segment.bytes", "segment.ms":
			// Accepted without effect: records are stored uncompressed, a
			// record keeps its producer's timestamp, there is one replica,
			// and storage blocks are sized by the store.
		default:
			return cfg, fmt.Errorf("%w: %q is not supported", ErrInvalidConfig, kv.Name)
		}
		if err != nil {
			return cfg, fmt.Errorf("%w: %s=%q", ErrInvalidConfig, kv.Name, v)
		}
	}
	return cfg, nil
}

func (c *conn) handleDeleteTopics(req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	ctx, cancel := c.requestContext(req.TimeoutMillis)
	defer cancel()
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	for _, n := range req.TopicNames {
		targets = append(targets, target{name: kmsg.StringPtr(n)})
	}
	for _, t := range req.Topics {
		targets = append(targets, target{name: t.Topic, id: t.TopicID})
	}
	for _, tg := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic, rt.TopicID = tg.name, tg.id
		var err error
		name := ""
		if tg.name != nil {
			name = *tg.name
		} else if info, lerr := c.topicByID(tg.id); lerr == nil {
			name = info.Name
			rt.Topic = kmsg.StringPtr(name)
		} else {
			err = lerr
		}
		if err == nil {
			if info, lerr := c.backend().Topic(name); lerr != nil {
				err = lerr
			} else {
				rt.TopicID = info.ID
				err = c.backend().DeleteTopic(ctx, name)
			}
		}
		if err == nil {
			c.srv.log.Info("deleted Kafka topic", "topic", name)
		}
		rt.ErrorCode = errorCode(err)
		if req.Version >= 5 {
			rt.ErrorMessage = errorMessage(err)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}

func (c *conn) handleCreatePartitions(req *kmsg.CreatePartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	ctx, cancel := c.requestContext(req.TimeoutMillis)
	defer cancel()
	for _, rt := range req.Topics {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic = rt.Topic
		err := c.createPartitions(ctx, rt.Topic, rt.Count, req.ValidateOnly)
		t.ErrorCode = errorCode(err)
		t.ErrorMessage = errorMessage(err)
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func (c *conn) createPartitions(ctx context.Context, topic string, count int32, validateOnly bool) error {
	info, err := c.backend().Topic(topic)
	if err != nil {
		return err
	}
	if count <= info.Partitions || count > maxPartitions {
		return fmt.Errorf("%w: topic %s has %d partitions; the new count must be larger (at most %d)",
			ErrInvalidPartitions, topic, info.Partitions, maxPartitions)
	}
	if validateOnly {
		return nil
	}
	return c.backend().AddPartitions(ctx, topic, count)
}

func (c *conn) handleDescribeConfigs(req *kmsg.DescribeConfigsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	for _, res := range req.Resources {
		r := kmsg.NewDescribeConfigsResponseResource()
		r.ResourceType, r.ResourceName = res.ResourceType, res.ResourceName
		switch res.ResourceType {
		case kmsg.ConfigResourceTypeTopic:
			info, err := c.backend().Topic(res.ResourceName)
			if err != nil {
				r.ErrorCode, r.ErrorMessage = errorCode(err), errorMessage(err)
				break
			}
			for _, e := range topicConfigEntries(info.Config) {
				if wanted(res.ConfigNames, e.name) {
					r.Configs = append(r.Configs, e.describe(req.Version))
				}
			}
		case kmsg.ConfigResourceTypeBroker:
			// No broker settings are exposed; an empty list, as for a
			// broker whose settings are all hidden.
		default:
			r.ErrorCode = errInvalidRequest
			r.ErrorMessage = kmsg.StringPtr("only topic and broker resources are described")
		}
		resp.Resources = append(resp.Resources, r)
	}
	return resp
}

func wanted(names []string, name string) bool {
	if names == nil {
		return true
	}
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// configEntry is one described topic setting.
type configEntry struct {
	name, value string
	isDefault   bool
	typ         kmsg.ConfigType
}

func (e configEntry) describe(version int16) kmsg.DescribeConfigsResponseResourceConfig {
	d := kmsg.NewDescribeConfigsResponseResourceConfig()
	d.Name, d.Value = e.name, kmsg.StringPtr(e.value)
	d.ReadOnly = false
	d.IsDefault = e.isDefault
	d.Source = kmsg.ConfigSourceDynamicTopicConfig
	if e.isDefault {
		d.Source = kmsg.ConfigSourceDefaultConfig
	}
	d.ConfigType = e.typ
	return d
}

func topicConfigEntries(cfg TopicConfig) []configEntry {
	num := func(name string, v int64, unlimited string, typ kmsg.ConfigType) configEntry {
		if v <= 0 {
			return configEntry{name: name, value: unlimited, isDefault: true, typ: typ}
		}
		return configEntry{name: name, value: strconv.FormatInt(v, 10), typ: typ}
	}
	return []configEntry{
		{name: "cleanup.policy", value: "delete", isDefault: true, typ: kmsg.ConfigTypeList},
		{name: "compression.type", value: "producer", isDefault: true, typ: kmsg.ConfigTypeString},
		num("max.message.bytes", int64(cfg.MaxMessageSize), "1048588", kmsg.ConfigTypeInt),
		{name: "message.timestamp.type", value: "CreateTime", isDefault: true, typ: kmsg.ConfigTypeString},
		{name: "min.insync.replicas", value: "1", isDefault: true, typ: kmsg.ConfigTypeInt},
		num("retention.bytes", cfg.RetentionBytes, "-1", kmsg.ConfigTypeLong),
		num("retention.ms", cfg.RetentionMs, "-1", kmsg.ConfigTypeLong),
	}
}

// createdConfigs is what CreateTopics v5+ echoes.
func createdConfigs(cfg TopicConfig) []kmsg.CreateTopicsResponseTopicConfig {
	var out []kmsg.CreateTopicsResponseTopicConfig
	for _, e := range topicConfigEntries(cfg) {
		rc := kmsg.NewCreateTopicsResponseTopicConfig()
		rc.Name, rc.Value = e.name, kmsg.StringPtr(e.value)
		rc.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		if e.isDefault {
			rc.Source = int8(kmsg.ConfigSourceDefaultConfig)
		}
		out = append(out, rc)
	}
	return out
}
