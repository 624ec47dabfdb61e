package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/midgemq/midge/internal/testtools"
)

// The Kafka listener of the real binary: flags, ports file, monitoring,
// kcat, and what survives a SIGKILL.

func kgoClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(10 * time.Second)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func kafkaTopic(t *testing.T, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("creating topic %s: %v", name, err)
	}
}

// --kafka_port -1 opens the listener on a free port, listed in the ports
// file under "kafka", in /varz and in /metrics.
func TestKafkaListenerInPortsFileAndMonitoring(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(midgeBin, "-a", "127.0.0.1", "-p", "-1", "-m", "-1", "-js", "-sd", dir,
		"--kafka_port", "-1", "--ports_file_dir", dir)
	logs := &syncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ports := portsOf(t, dir, cmd.Process.Pid)
	if len(ports["kafka"]) != 1 || strings.Contains(ports["kafka"][0], "://") {
		t.Fatalf("ports file kafka entry: %v", ports)
	}
	addr := ports["kafka"][0]
	prod := kgoClient(t, addr, kgo.DefaultProduceTopic("seen"), kgo.AllowAutoTopicCreation())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("counted")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	mon := ports["monitoring"][0]
	resp, err := http.Get(mon + "/varz")
	if err != nil {
		t.Fatal(err)
	}
	var varz struct {
		Kafka struct {
			Host  string `json:"host"`
			Port  int    `json:"port"`
			Stats struct {
				Connections int   `json:"connections"`
				InMsgs      int64 `json:"in_msgs"`
			} `json:"midge_stats"`
			Kafka struct {
				Requests uint64 `json:"requests"`
			} `json:"midge_kafka"`
		} `json:"kafka"`
	}
	err = json.NewDecoder(resp.Body).Decode(&varz)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	k := varz.Kafka
	if addr != fmt.Sprintf("%s:%d", k.Host, k.Port) || k.Stats.InMsgs != 1 || k.Stats.Connections < 1 || k.Kafka.Requests == 0 {
		t.Fatalf("/varz kafka block %+v, listener %s", k, addr)
	}
	resp, err = http.Get(mon + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`midge_protocol_in_msgs_total{protocol="kafka"} 1`, `midge_protocol_connections{protocol="kafka"}`,
		"midge_kafka_requests_total "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !strings.Contains(logs.String(), "listening for Kafka clients") {
		t.Errorf("no start line for the Kafka listener:\n%s", logs)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := waitCmd(cmd); err != nil {
		t.Fatalf("exit: %v\n%s", err, logs)
	}
}

// The listener needs JetStream: without it midge refuses to start.
func TestKafkaWithoutJetStreamExitsOne(t *testing.T) {
	_, stderr, code := runMidge(t, "-a", "127.0.0.1", "-p", "-1", "--kafka_port", "-1")
	if code != 1 || !strings.Contains(stderr, "JetStream") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
}

// Records acknowledged with acks=all and a group's committed offsets
// survive a SIGKILL of midge.
func TestKafkaAckedRecordsAndCommittedOffsetsSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process")
	}
	dir := t.TempDir()
	port := strconv.Itoa(freePort(t))
	addr := "127.0.0.1:" + port
	c := startMidge(t, "-js", "-sd", dir, "--kafka_port", port)
	kafkaTopic(t, kgoClient(t, addr), "crash", 2)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	prod := kgoClient(t, addr, kgo.DefaultProduceTopic("crash"), kgo.RetryTimeout(5*time.Second))
	var first []*kgo.Record
	for i := 0; i < 500; i++ {
		first = append(first, &kgo.Record{Key: []byte(fmt.Sprintf("early-%04d", i)), Value: []byte("x")})
	}
	if err := prod.ProduceSync(ctx, first...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	group := func() *kgo.Client {
		return kgoClient(t, addr, kgo.ConsumerGroup("survivor"), kgo.ConsumeTopics("crash"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	}
	cons := group()
	var consumed []*kgo.Record
	for len(consumed) < 500 && ctx.Err() == nil {
		consumed = append(consumed, cons.PollFetches(ctx).Records()...)
	}
	if err := cons.CommitRecords(ctx, consumed...); err != nil {
		t.Fatal(err)
	}
	cons.Close()

	// Produce until a few thousand records are acknowledged, then kill.
	var mu sync.Mutex
	acked := make(map[string]bool)
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; pctx.Err() == nil && i < 200000; i++ {
			key := fmt.Sprintf("live-%06d", i)
			prod.Produce(pctx, &kgo.Record{Key: []byte(key), Value: []byte("y")}, func(_ *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[key] = true
					mu.Unlock()
				}
			})
		}
	}()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 {
			break
		}
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t)
	stop()
	wg.Wait()
	prod.Close()
	// A snapshot: the client may still run callbacks after Close.
	mu.Lock()
	ackedBeforeKill := maps.Clone(acked)
	mu.Unlock()
	want := len(ackedBeforeKill)
	if want == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}

	startMidge(t, "-js", "-sd", dir, "--kafka_port", port)
	cons = group()
	found := make(map[string]bool)
	for missing := want; missing > 0; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after the restart %d of %d acknowledged records are missing", missing, want)
		}
		for _, r := range fs.Records() {
			k := string(r.Key)
			if strings.HasPrefix(k, "early-") {
				t.Fatalf("committed record %s (offset %d) delivered again", k, r.Offset)
			}
			if ackedBeforeKill[k] && !found[k] {
				found[k] = true
				missing--
			}
		}
	}
	t.Logf("%d acknowledged records present after SIGKILL", want)
}

func kcat(t *testing.T) string {
	t.Helper()
	return testtools.Command(t, "kcat", "apt-get install kcat")
}

func runKcat(t *testing.T, bin, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// kcat (librdkafka) against the binary: it produces with SASL PLAIN as a
// configured user, a NATS subscriber of that user's account sees the
// records, a NATS publish is read back by kcat with its key, and a wrong
// password is refused.
func TestKcatAgainstMidge(t *testing.T) {
	bin := kcat(t)
	port := strconv.Itoa(freePort(t))
	conf := writeConfig(t, `
accounts { APP: { jetstream: enabled, users: [ {user: app, password: s3cret} ] } }
`)
	c := startMidge(t, "-js", "-sd", t.TempDir(), "-c", conf, "--kafka_port", port)
	broker := "127.0.0.1:" + port
	sasl := func(pass string) []string {
		return []string{"-b", broker, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN",
			"-X", "sasl.username=app", "-X", "sasl.password=" + pass}
	}
	nc, err := nats.Connect(c.url(), nats.UserInfo("app", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("lines.>")
	if err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	const n = 500
	var in strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, "key-%d:line %d\n", i, i)
	}
	runKcat(t, bin, in.String(), append(sasl("s3cret"), "-t", "lines", "-P", "-K:", "-H", "origin=kcat", "-z", "snappy")...)
	for i := 0; i < n; i++ {
		m, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("NATS subscriber: message %d: %v", i, err)
		}
		if m.Subject != "lines.0" || string(m.Data) != fmt.Sprintf("line %d", i) ||
			m.Header.Get("Kafka-Key") != fmt.Sprintf("key-%d", i) || m.Header.Get("origin") != "kcat" {
			t.Fatalf("NATS subscriber: message %d: %s %q %v", i, m.Subject, m.Data, m.Header)
		}
	}
	msg := nats.NewMsg("lines.0")
	msg.Header.Set("Kafka-Key", "from-nats")
	msg.Data = []byte("published over NATS")
	if err := nc.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	out := runKcat(t, bin, "", append(sasl("s3cret"), "-t", "lines", "-C", "-o", "beginning", "-e", "-f", "%k=%s|%h\n")...)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n+1 || lines[0] != "key-0=line 0|origin=kcat" || lines[n] != "from-nats=published over NATS|" {
		t.Fatalf("kcat read %d lines: first %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bad := exec.CommandContext(ctx, bin, append(sasl("wrong"), "-L", "-m", "5")...)
	if outb, err := bad.CombinedOutput(); err == nil {
		t.Fatalf("kcat listed metadata with a wrong password:\n%s", outb)
	}
}
