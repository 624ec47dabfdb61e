package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestTopicAdministration(t *testing.T) {
	b := startBroker(t, Config{})
	cl := b.client()
	ctx := ctxTimeout(t, 20*time.Second)

	create := kmsg.NewPtrCreateTopicsRequest()
	for _, tc := range []struct {
		name string
		n    int32
		cfg  map[string]string
	}{
		{"admin.topic", 2, map[string]string{"retention.ms": "3600000", "max.message.bytes": "2048"}},
		{"bad..name", 1, nil},
		{"compacted", 1, map[string]string{"cleanup.policy": "compact"}},
		{"zero", 0, nil},
	} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.name, tc.n, -1
		for k, v := range tc.cfg {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		create.Topics = append(create.Topics, rt)
	}
	cr, err := create.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	wantCodes := []int16{0, errInvalidTopic, errInvalidConfig, errInvalidPartitions}
	for i, rt := range cr.Topics {
		if rt.ErrorCode != wantCodes[i] {
			t.Fatalf("create %s: error %d (%s), want %d", rt.Topic, rt.ErrorCode, deref(rt.ErrorMessage), wantCodes[i])
		}
	}
	if cr, _ = create.RequestWith(ctx, cl); cr.Topics[0].ErrorCode != errTopicAlreadyExists {
		t.Fatalf("second create: error %d", cr.Topics[0].ErrorCode)
	}
	info, err := b.backend.Topic("admin.topic")
	if err != nil || info.Stream != "admin_topic" || info.Partitions != 2 || info.Config.RetentionMs != 3600000 {
		t.Fatalf("topic %+v, %v", info, err)
	}

	// Records over max.message.bytes are refused.
	prod := b.client(kgo.DefaultProduceTopic("admin.topic"), kgo.RecordRetries(1))
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 4096)}).FirstErr(); err == nil {
		t.Fatal("record over max.message.bytes accepted")
	}

	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = "admin.topic", 5
	cp.Topics = append(cp.Topics, cpt)
	if r, err := cp.RequestWith(ctx, cl); err != nil || r.Topics[0].ErrorCode != 0 {
		t.Fatalf("create partitions: %v %+v", err, r)
	}
	if r, _ := cp.RequestWith(ctx, cl); r.Topics[0].ErrorCode != errInvalidPartitions {
		t.Fatalf("shrinking or same count: error %d", r.Topics[0].ErrorCode)
	}
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("admin.topic")
	md.Topics = append(md.Topics, mt)
	if r, err := md.RequestWith(ctx, cl); err != nil || len(r.Topics[0].Partitions) != 5 || r.Topics[0].TopicID != info.ID {
		t.Fatalf("metadata after growth: %v %+v", err, r)
	}

	dc := kmsg.NewPtrDescribeConfigsRequest()
	res := kmsg.NewDescribeConfigsRequestResource()
	res.ResourceType, res.ResourceName = kmsg.ConfigResourceTypeTopic, "admin.topic"
	res.ConfigNames = []string{"retention.ms", "max.message.bytes", "cleanup.policy"}
	dc.Resources = append(dc.Resources, res)
	dr, err := dc.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]string)
	for _, c := range dr.Resources[0].Configs {
		got[c.Name] = deref(c.Value)
	}
	if got["retention.ms"] != "3600000" || got["max.message.bytes"] != "2048" || got["cleanup.policy"] != "delete" || len(got) != 3 {
		t.Fatalf("described configs %v", got)
	}

	del := kmsg.NewPtrDeleteTopicsRequest()
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr("admin.topic")
	del.Topics = append(del.Topics, dt)
	del.TopicNames = []string{"admin.topic"}
	if r, err := del.RequestWith(ctx, cl); err != nil || r.Topics[0].ErrorCode != 0 {
		t.Fatalf("delete: %v %+v", err, r)
	}
	if _, err := b.backend.Topic("admin.topic"); err == nil {
		t.Fatal("topic still there after delete")
	}
	if r, _ := del.RequestWith(ctx, cl); r.Topics[0].ErrorCode != errUnknownTopicOrPartition {
		t.Fatalf("second delete: error %d", r.Topics[0].ErrorCode)
	}
}

func TestListOffsetsEarliestLatestAndByTime(t *testing.T) {
	b := startBroker(t, Config{})
	cl := b.client(kgo.DefaultProduceTopic("times"))
	b.createTopic(cl, "times", 1)
	ctx := ctxTimeout(t, 20*time.Second)
	var marks []int64
	for i := 0; i < 3; i++ {
		marks = append(marks, time.Now().UnixMilli())
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte{byte(i)}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // distinct store times: the lookup's subject
	}
	list := func(ts int64) (int64, int16) {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "times"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := list(listEarliest); off != 0 || code != 0 {
		t.Fatalf("earliest %d (%d)", off, code)
	}
	if off, code := list(listLatest); off != 3 || code != 0 {
		t.Fatalf("latest %d (%d)", off, code)
	}
	for i, m := range marks {
		if off, code := list(m); off != int64(i) || code != 0 {
			t.Fatalf("at time of record %d: offset %d (%d)", i, off, code)
		}
	}
	if off, _ := list(time.Now().Add(time.Hour).UnixMilli()); off != -1 {
		t.Fatalf("future time: offset %d, want -1", off)
	}
}
