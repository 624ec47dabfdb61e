package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	mqttc "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
)

// Kafka through the whole server: the listener midge serves, the streams of
// its JetStream layer, NATS and MQTT clients on the same subjects.

// startKafka runs midge with JetStream and a Kafka listener on a free
// loopback port.
func startKafka(t *testing.T, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	return testutil.StartJS(t, append([]func(*config.Options){func(o *config.Options) {
		o.Kafka = config.KafkaOptions{Port: config.RandomPort}
	}}, mutate...)...)
}

func kafkaClient(t *testing.T, s *server.Server, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(s.KafkaAddr().String()),
		kgo.RetryTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, cl *kgo.Client, name string, partitions int32) error {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp, err := req.RequestWith(testutil.Ctx(t), cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.Topics[0].ErrorCode)
}

func mustCreateTopic(t *testing.T, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	if err := createTopic(t, cl, name, partitions); err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
}

// consume polls until n records arrived.
func consume(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func fromStart(topic string, partitions ...int32) kgo.Opt {
	ps := make(map[int32]kgo.Offset)
	for _, p := range partitions {
		ps[p] = kgo.NewOffset().AtStart()
	}
	return kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: ps})
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// NATS core and JetStream publishes on a partition's subject read as Kafka
// records of the topic's stream.
func TestNATSPublishesReadInKafka(t *testing.T) {
	s := startKafka(t)
	mustCreateTopic(t, kafkaClient(t, s), "orders", 2)
	nc, js := testutil.JSClient(t, s)
	m := nats.NewMsg("orders.0")
	m.Header.Set("Kafka-Key", "user-7")
	m.Header.Set("Trace", "abc")
	m.Data = []byte("core publish")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(testutil.Ctx(t), "orders.1", []byte("jetstream publish"))
	if err != nil || ack.Stream != "orders" {
		t.Fatalf("JetStream publish into the topic's stream: %+v %v", ack, err)
	}

	recs := consume(t, kafkaClient(t, s, fromStart("orders", 0, 1)), 2)
	byPart := map[int32]*kgo.Record{}
	for _, r := range recs {
		byPart[r.Partition] = r
	}
	if r := byPart[0]; r == nil || string(r.Key) != "user-7" || string(r.Value) != "core publish" || header(r, "Trace") != "abc" {
		t.Fatalf("core publish as a record: %+v", r)
	}
	if r := byPart[1]; r == nil || r.Key != nil || string(r.Value) != "jetstream publish" || r.Offset != int64(ack.Sequence)-1 {
		t.Fatalf("JetStream publish (seq %d) as a record: %+v", ack.Sequence, r)
	}
}

// Kafka records reach core NATS subscribers as they are produced, and a
// JetStream consumer of the topic's stream reads them with the stream
// sequences their offsets name.
func TestKafkaRecordsReachNATSSubscribersAndConsumers(t *testing.T) {
	s := startKafka(t)
	admin := kafkaClient(t, s)
	mustCreateTopic(t, admin, "events", 3)
	nc, js := testutil.JSClient(t, s)
	sub, err := nc.SubscribeSync("events.>")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, nc)
	cons, err := js.CreateOrUpdateConsumer(testutil.Ctx(t), "events", jetstream.ConsumerConfig{
		Durable: "reader", FilterSubject: "events.2", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}

	const n = 200
	prod := kafkaClient(t, s, kgo.DefaultProduceTopic("events"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		recs = append(recs, &kgo.Record{Partition: 2, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(strconv.Itoa(i))}}})
	}
	res := prod.ProduceSync(testutil.Ctx(t), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("core subscriber: message %d: %v", i, err)
		}
		if m.Subject != "events.2" || string(m.Data) != fmt.Sprintf("v%d", i) ||
			m.Header.Get("Kafka-Key") != fmt.Sprintf("k%d", i) || m.Header.Get("n") != strconv.Itoa(i) {
			t.Fatalf("core subscriber: message %d: %s %q %v", i, m.Subject, m.Data, m.Header)
		}
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for m := range batch.Messages() {
		md, _ := m.Metadata()
		if string(m.Data()) != fmt.Sprintf("v%d", i) || int64(md.Sequence.Stream) != res[i].Record.Offset+1 {
			t.Fatalf("consumer message %d: %q seq %d, produced at offset %d", i, m.Data(), md.Sequence.Stream, res[i].Record.Offset)
		}
		m.Ack()
		i++
	}
	if i != n {
		t.Fatalf("the consumer fetched %d of %d: %v", i, n, batch.Error())
	}
}

// An MQTT publish on a partition's topic reads as a Kafka record.
func TestMQTTPublishesReadInKafka(t *testing.T) {
	s := startKafka(t, func(o *config.Options) { o.MQTT = config.MQTTOptions{Host: "127.0.0.1", Port: -1} })
	mustCreateTopic(t, kafkaClient(t, s), "sensors", 1)
	mc := mqttc.NewClient(mqttc.NewClientOptions().AddBroker(s.MQTTURL()).SetClientID("thermo"))
	if tok := mc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer mc.Disconnect(0)
	for qos, payload := range []string{"21.5", "22.0"} {
		if tok := mc.Publish("sensors/0", byte(qos), false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("mqtt publish: %v", tok.Error())
		}
	}
	recs := consume(t, kafkaClient(t, s, fromStart("sensors", 0)), 2)
	if string(recs[0].Value) != "21.5" || string(recs[1].Value) != "22.0" || recs[1].Offset != recs[0].Offset+1 {
		t.Fatalf("MQTT publishes as records: %+v %+v", recs[0], recs[1])
	}
}

// Users authenticate with SASL PLAIN into their account, whose streams
// they see alone, with their subject permissions; without credentials
// nothing is served when the server requires authentication.
func TestSASLMapsUsersOntoAccountsAndPermissions(t *testing.T) {
	s := startKafka(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}, {Name: "B"}}
		o.Auth.Users = []config.User{
			{Username: "alice", Password: "pa", Account: "A"},
			{Username: "bob", Password: "pb", Account: "B"},
			{Username: "carol", Password: "pc", Account: "A", Permissions: &config.Permissions{
				Publish:   &config.SubjectPermission{Deny: []string{"orders.>"}},
				Subscribe: &config.SubjectPermission{Allow: []string{">"}},
			}},
		}
	})
	as := func(user, pass string, opts ...kgo.Opt) *kgo.Client {
		return kafkaClient(t, s, append([]kgo.Opt{kgo.SASL(plain.Auth{User: user, Pass: pass}.AsMechanism())}, opts...)...)
	}
	alice := as("alice", "pa", kgo.DefaultProduceTopic("orders"))
	mustCreateTopic(t, alice, "orders", 1)
	if err := alice.ProduceSync(testutil.Ctx(t), &kgo.Record{Value: []byte("from alice")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// A NATS client of account A sees the topic's stream; bob's account
	// has none.
	ncA := testutil.Connect(t, s, nats.UserInfo("alice", "pa"))
	jsa, _ := jetstream.New(ncA)
	if info, err := jsa.Stream(testutil.Ctx(t), "orders"); err != nil {
		t.Fatalf("account A's NATS view of the topic: %v", err)
	} else if st, _ := info.Info(testutil.Ctx(t)); st.State.Msgs != 1 {
		t.Fatalf("account A's stream holds %d messages", st.State.Msgs)
	}
	meta, err := kmsg.NewPtrMetadataRequest().RequestWith(testutil.Ctx(t), as("bob", "pb"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range meta.Topics {
		if tp.Topic != nil && *tp.Topic == "orders" {
			t.Fatal("bob's account lists alice's topic")
		}
	}

	carol := as("carol", "pc", kgo.DefaultProduceTopic("orders"), kgo.RecordRetries(0))
	if err := carol.ProduceSync(testutil.Ctx(t), &kgo.Record{Value: []byte("denied")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without publish permission: %v", err)
	}
	if recs := consume(t, as("carol", "pc", fromStart("orders", 0)), 1); string(recs[0].Value) != "from alice" {
		t.Fatalf("carol reads %q", recs[0].Value)
	}

	wrong := as("alice", "nope", kgo.RetryTimeout(time.Second))
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(testutil.Ctx(t), wrong); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	// Without credentials a metadata request is answered empty (and the
	// connection closed): no broker, no topic.
	anon := kafkaClient(t, s, kgo.RetryTimeout(time.Second))
	if meta, err := kmsg.NewPtrMetadataRequest().RequestWith(testutil.Ctx(t), anon); err == nil && (len(meta.Brokers) > 0 || len(meta.Topics) > 0) {
		t.Fatalf("a client without credentials was served although users are configured: %+v", meta)
	}
}

// Without authentication configured, Kafka clients are anonymous users of
// the global account; with a no_auth_user, they are that user.
func TestAnonymousKafkaClients(t *testing.T) {
	s := startKafka(t)
	prod := kafkaClient(t, s, kgo.DefaultProduceTopic("open"), kgo.AllowAutoTopicCreation())
	if err := prod.ProduceSync(testutil.Ctx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	_, js := testutil.JSClient(t, s)
	if _, err := js.Stream(testutil.Ctx(t), "open"); err != nil {
		t.Fatalf("the global account's stream of an auto-created topic: %v", err)
	}

	s = startKafka(t, func(o *config.Options) {
		o.Accounts = []config.AccountOptions{{Name: "A"}}
		o.Auth.Users = []config.User{{Username: "guest", Password: "g", Account: "A"}}
		o.Auth.NoAuthUser = "guest"
	})
	prod = kafkaClient(t, s, kgo.DefaultProduceTopic("guests"), kgo.AllowAutoTopicCreation())
	if err := prod.ProduceSync(testutil.Ctx(t), &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	jsa, _ := jetstream.New(testutil.Connect(t, s, nats.UserInfo("guest", "g")))
	if _, err := jsa.Stream(testutil.Ctx(t), "guests"); err != nil {
		t.Fatalf("the no_auth_user's account lacks the topic: %v", err)
	}
}
