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
