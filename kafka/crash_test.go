package kafka

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The crash test runs the listener in a child process (testdata/kafkabroker;
// once cmd/midge serves Kafka, the same steps apply to it) and SIGKILLs it
// while a producer is writing with acks=all.

var buildOnce struct {
	sync.Once
	path string
	err  error
}

func brokerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kafkabroker")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "kafkabroker")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(gobin, "build", "-o", buildOnce.path, "./testdata/kafkabroker").CombinedOutput()
		if err != nil {
			buildOnce.err = err
			buildOnce.path = string(out)
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("building the broker: %v\n%s", buildOnce.err, buildOnce.path)
	}
	return buildOnce.path
}

// childBroker is a running kafkabroker.
type childBroker struct {
	cmd  *exec.Cmd
	addr string
}

func startChild(t *testing.T, dir string) *childBroker {
	t.Helper()
	cmd := exec.Command(brokerBinary(t), "-dir", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childBroker{cmd: cmd}
	t.Cleanup(func() { c.kill() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ADDR ") {
		t.Fatalf("broker did not start: %q %v", line, err)
	}
	c.addr = strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
	return c
}

func (c *childBroker) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	}
}

func TestSIGKILLLosesNoAcknowledgedRecordAndKeepsCommittedOffsets(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills a child process")
	}
	dir := t.TempDir()
	child := startChild(t, dir)
	opts := func(addr string, more ...kgo.Opt) []kgo.Opt {
		return append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(5 * time.Second)}, more...)
	}
	admin, err := kgo.NewClient(opts(child.addr)...)
	if err != nil {
		t.Fatal(err)
	}
	(&testBroker{t: t}).createTopic(admin, "crash", 2)
	admin.Close()

	// A group consumes and commits the first records.
	prod, _ := kgo.NewClient(opts(child.addr, kgo.DefaultProduceTopic("crash"))...)
	produceKeyed(t, prod, "crash", 500)
	cons, _ := kgo.NewClient(opts(child.addr, kgo.ConsumerGroup("survivor"), kgo.ConsumeTopics("crash"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())...)
	ctx := ctxTimeout(t, 60*time.Second)
	first := consumeN(t, ctx, cons, 500)
	if err := cons.CommitRecords(ctx, first...); err != nil {
		t.Fatal(err)
	}
	cons.Close()

	// Keep producing; kill the broker mid-stream. Every acknowledged key
	// must be there afterwards.
	var mu sync.Mutex
	acked := make(map[string]bool)
	pctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; pctx.Err() == nil && i < 200000; i++ {
			key := "live-" + keyOf(i)
			prod.Produce(pctx, &kgo.Record{Key: []byte(key), Value: []byte("x")}, func(r *kgo.Record, err error) {
				if err == nil {
					mu.Lock()
					acked[key] = true
					mu.Unlock()
				}
			})
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 2000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	child.kill()
	stop()
	wg.Wait()
	prod.Close()
	mu.Lock()
	ackedCount := len(acked)
	mu.Unlock()
	if ackedCount == 0 {
		t.Fatal("nothing was acknowledged before the kill")
	}

	child = startChild(t, dir)
	// The group resumes after its committed offsets: none of the first
	// 500 records comes back, and every acknowledged record is there.
	cons, _ = kgo.NewClient(opts(child.addr, kgo.ConsumerGroup("survivor"), kgo.ConsumeTopics("crash"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	defer cons.Close()
	found := make(map[string]bool)
	for missing := ackedCount; missing > 0; {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("after the restart %d acknowledged records are missing", missing)
		}
		for _, r := range fs.Records() {
			k := string(r.Key)
			if !strings.HasPrefix(k, "live-") {
				t.Fatalf("committed record %q (offset %d) delivered again", k, r.Offset)
			}
			if acked[k] && !found[k] {
				found[k] = true
				missing--
			}
		}
	}
	t.Logf("%d acknowledged records all present after SIGKILL", ackedCount)
}
