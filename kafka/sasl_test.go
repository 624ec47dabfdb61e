package kafka

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

func authAlice(user, pass string) (Backend, error) {
	if user == "alice" && pass == "s3cret" {
		return nil, nil // startBroker substitutes the test store's backend
	}
	return nil, errors.New("bad credentials")
}

func TestSASLPlainSucceedsWithTheRightPassword(t *testing.T) {
	b := startBroker(t, Config{Authenticate: authAlice, AutoCreateTopics: true})
	cl := b.client(kgo.SASL(plain.Auth{User: "alice", Pass: "s3cret"}.AsMechanism()), kgo.DefaultProduceTopic("secure"), kgo.AllowAutoTopicCreation())
	ctx := ctxTimeout(t, 20*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hi")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.backend.Topic("secure"); err != nil {
		t.Fatalf("auto-created topic: %v", err)
	}
}

func TestSASLPlainFailsWithAWrongPassword(t *testing.T) {
	b := startBroker(t, Config{Authenticate: authAlice})
	cl := b.client(kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism()), kgo.RetryTimeout(time.Second))
	ctx := ctxTimeout(t, 20*time.Second)
	_, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err == nil {
		t.Fatal("metadata succeeded with a wrong password")
	}
	if st := b.srv.Stats(); st.AuthFailures == 0 {
		t.Fatalf("auth failures not counted: %+v", st)
	}
}

func TestRequestsBeforeSASLAreRefused(t *testing.T) {
	b := startBroker(t, Config{Authenticate: authAlice})
	c := dialRaw(t, b.addr())
	c.send(kmsg.NewPtrMetadataRequest(), 1)
	mr := kmsg.NewPtrMetadataResponse()
	c.read(mr)
	if len(mr.Topics) != 0 || len(mr.Brokers) != 0 {
		t.Fatalf("metadata answered before authentication: %+v", mr)
	}
	c.expectClosed()

	// SaslHandshake v0 then a bare PLAIN token, as old clients do.
	c = dialRaw(t, b.addr())
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.SetVersion(0)
	hs.Mechanism = "PLAIN"
	c.send(hs, 2)
	hr := kmsg.NewPtrSASLHandshakeResponse()
	hr.SetVersion(0)
	if c.read(hr); hr.ErrorCode != 0 {
		t.Fatalf("handshake error %d", hr.ErrorCode)
	}
	token := []byte("\x00alice\x00s3cret")
	c.sendBytes(appendRawFrame(nil, token))
	if frame, err := readFrame(c.br, 16); err != nil || len(frame) != 0 {
		t.Fatalf("bare token answer %q, %v", frame, err)
	}
	c.send(kmsg.NewPtrMetadataRequest(), 3)
	mr = kmsg.NewPtrMetadataResponse()
	if corr := c.read(mr); corr != 3 || len(mr.Brokers) != 1 {
		t.Fatalf("metadata after v0 SASL: %d %+v", corr, mr)
	}
}

// subjectPerms allows publishing to listed subjects only and subscribing
// to none.
type subjectPerms map[string]bool

func (p subjectPerms) CanPublish(s string) bool { return p[s] }
func (subjectPerms) CanSubscribe(string) bool   { return false }

func TestRestrictAppliesTheUsersSubjectPermissions(t *testing.T) {
	var b *testBroker
	b = startBroker(t, Config{Authenticate: func(user, pass string) (Backend, error) {
		if user == "admin" {
			return nil, nil
		}
		return Restrict(b.backend, subjectPerms{"perm.0": true}), nil
	}})
	admin := b.client(kgo.SASL(plain.Auth{User: "admin", Pass: "x"}.AsMechanism()))
	b.createTopic(admin, "perm", 2)

	user := b.client(kgo.SASL(plain.Auth{User: "bob", Pass: "x"}.AsMechanism()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RecordRetries(1))
	ctx := ctxTimeout(t, 20*time.Second)
	if err := user.ProduceSync(ctx, &kgo.Record{Topic: "perm", Partition: 0, Value: []byte("ok")}).FirstErr(); err != nil {
		t.Fatalf("allowed partition: %v", err)
	}
	if err := user.ProduceSync(ctx, &kgo.Record{Topic: "perm", Partition: 1, Value: []byte("no")}).FirstErr(); err == nil {
		t.Fatal("produce to a subject without publish permission succeeded")
	}
	fr := kmsg.NewPtrFetchRequest()
	fr.MaxBytes = 1 << 20
	fr.Topics = []kmsg.FetchRequestTopic{{Topic: "perm", Partitions: []kmsg.FetchRequestTopicPartition{{Partition: 0, PartitionMaxBytes: 1 << 20}}}}
	resp, err := fr.RequestWith(ctx, user)
	if err != nil || resp.Topics[0].Partitions[0].ErrorCode != errTopicAuthorizationFailed {
		t.Fatalf("fetch without subscribe permission: %v %+v", err, resp)
	}
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Topics = []kmsg.CreateTopicsRequestTopic{{Topic: "mine", NumPartitions: 1, ReplicationFactor: 1}}
	if cr, err := ct.RequestWith(ctx, user); err != nil || cr.Topics[0].ErrorCode != errTopicAuthorizationFailed {
		t.Fatalf("create topic without API permission: %v %+v", err, cr)
	}
	// One account: bob's producer state and groups are admin's.
	if n := len(b.srv.accounts); n != 1 {
		t.Fatalf("%d accounts, want 1", n)
	}
}
