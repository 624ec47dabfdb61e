package kafka

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// seedRequests are real requests, one per handled api, as clients send
// them.
func seedRequests() [][]byte {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	var out [][]byte
	add := func(r kmsg.Request, v int16) {
		r.SetVersion(v)
		out = append(out, f.AppendRequest(nil, r, 1))
	}
	recs := []Record{{Offset: 0, Timestamp: 1, Key: []byte("k"), Value: []byte("v"),
		Headers: []RecordHeader{{Key: "h", Value: []byte("x")}}}}
	var scratch []byte
	batch := appendFetchBatch(nil, recs, &scratch)

	av := kmsg.NewPtrApiVersionsRequest()
	add(av, 3)
	add(kmsg.NewPtrApiVersionsRequest(), 0)
	md := kmsg.NewPtrMetadataRequest()
	md.Topics = []kmsg.MetadataRequestTopic{{Topic: kmsg.StringPtr("fz")}}
	add(md, 12)
	add(kmsg.NewPtrMetadataRequest(), 1)
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "fz", NumPartitions: 2, ReplicationFactor: 1}}
	add(ct, 7)
	pr := kmsg.NewPtrProduceRequest()
	pr.Acks = -1
	pr.Topics = []kmsg.ProduceRequestTopic{{Topic: "fz", Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 0, Records: batch}}}}
	add(pr, 9)
	add(pr, 3)
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxBytes, fr.MinBytes, fr.MaxWaitMillis = 1<<20, 1, 100
	fr.Topics = []kmsg.FetchRequestTopic{{Topic: "fz", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}}}
	add(fr, 12)
	add(fr, 4)
	lo := kmsg.NewPtrListOffsetsRequest()
	lo.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "fz", Partitions: []kmsg.ListOffsetsRequestTopicPartition{{Timestamp: -2}}}}
	add(lo, 6)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKeys = []string{"g"}
	add(fc, 4)
	jg := kmsg.NewPtrJoinGroupRequest()
	jg.Group, jg.SessionTimeoutMillis, jg.RebalanceTimeoutMillis, jg.ProtocolType = "g", 6000, 6000, "consumer"
	jg.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 0, 0, 0}}}
	add(jg, 9)
	sg := kmsg.NewPtrSyncGroupRequest()
	sg.Group, sg.MemberID = "g", "m"
	add(sg, 5)
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group = "g"
	add(hb, 4)
	lg := kmsg.NewPtrLeaveGroupRequest()
	lg.Group, lg.Members = "g", []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
	add(lg, 5)
	oc := kmsg.NewPtrOffsetCommitRequest()
	oc.Group, oc.Generation = "g", -1
	oc.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "fz", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	add(oc, 8)
	of := kmsg.NewPtrOffsetFetchRequest()
	of.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}}
	add(of, 8)
	add(kmsg.NewPtrListGroupsRequest(), 4)
	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"g"}
	add(dg, 5)
	dc := kmsg.NewPtrDescribeConfigsRequest()
	dc.Resources = []kmsg.DescribeConfigsRequestResource{{ResourceType: 2, ResourceName: "fz"}}
	add(dc, 4)
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.Topics = []kmsg.CreatePartitionsRequestTopic{{Topic: "fz", Count: 3}}
	add(cp, 3)
	ip := kmsg.NewPtrInitProducerIDRequest()
	add(ip, 4)
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Mechanism = "PLAIN"
	add(hs, 1)
	sa := kmsg.NewPtrSASLAuthenticateRequest()
	sa.SASLAuthBytes = []byte("\x00u\x00p")
	add(sa, 2)
	dt := kmsg.NewPtrDeleteTopicsRequest()
	dt.TopicNames = []string{"fz"}
	add(dt, 5)
	return out
}

// FuzzRequest feeds bytes through the listener's decoding path (frame,
// header, request body, record batches and their compression) and then
// through the request handlers over a real store, with the connection's
// context already ended so that nothing waits. It must not panic or hang,
// and decoding may allocate only in proportion to the input.
func FuzzRequest(f *testing.F) {
	for _, s := range seedRequests() {
		f.Add(s)
	}
	js := openJetStreams(f, f.TempDir())
	f.Cleanup(js.close)
	srv, err := NewServer(Config{Backend: NewJetBackend(js.streams), AutoCreateTopics: true, MaxRequestSize: 1 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	client, server := net.Pipe()
	f.Cleanup(func() { client.Close(); server.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		frame, err := readFrame(bytes.NewReader(data), 1<<20)
		if err != nil {
			return
		}
		hdr, req, err := parseRequest(frame)
		if pr, ok := req.(*kmsg.ProduceRequest); ok && err == nil {
			for _, t := range pr.Topics {
				for _, p := range t.Partitions {
					decodeProduced(p.Records, 4<<20)
				}
			}
		}
		runtime.ReadMemStats(&after)
		if grew := after.TotalAlloc - before.TotalAlloc; grew > uint64(256*len(data))+(8<<20) {
			t.Fatalf("decoding %d bytes allocated %d", len(data), grew)
		}
		if err != nil {
			if resp, ok := errorResponse(hdr.key, hdr.version, errInvalidRequest); ok {
				appendResponse(nil, hdr.correlationID, resp)
			}
			return
		}
		c := newConn(srv, server)
		c.cancel() // every wait returns at once
		done := make(chan struct{})
		go func() {
			defer close(done)
			p := c.handleFrame(frame)
			resp := p.resp
			if p.wait != nil {
				resp = p.wait()
			}
			if resp != nil {
				appendResponse(nil, p.correlationID, resp)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("request %s v%d did not finish", kmsg.NameForKey(hdr.key), hdr.version)
		}
	})
	_ = context.Background
}
