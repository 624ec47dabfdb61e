package kafka

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcat is librdkafka's command-line client (Debian package kcat), which
// .ci/run installs; without it the tests skip, or fail under
// MIDGE_REQUIRE_TOOLS=1.
func kcatPath(t *testing.T) string {
	t.Helper()
	return testtools.Command(t, "kcat", "apt-get install kcat")
}

func runKcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

func TestKcatProducesAndConsumes(t *testing.T) {
	kcatPath(t)
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "kc", 2)

	// kcat produces keyed lines with a header; franz-go reads them.
	const n = 1000
	var lines strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&lines, "%s:line %d\n", keyOf(i), i)
	}
	runKcat(t, lines.String(), "-b", b.addr(), "-t", "kc", "-P", "-K:", "-H", "origin=kcat", "-z", "lz4")
	cons := b.client(kgo.ConsumeTopics("kc"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consumeN(t, ctxTimeout(t, 30*time.Second), cons, n)
	seen := make(map[string]bool)
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(string(r.Value), "line %d", &i); err != nil || string(r.Key) != keyOf(i) {
			t.Fatalf("record from kcat: key %q value %q", r.Key, r.Value)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "origin" || string(r.Headers[0].Value) != "kcat" {
			t.Fatalf("headers from kcat: %v", r.Headers)
		}
		seen[string(r.Key)] = true
	}
	if len(seen) != n {
		t.Fatalf("%d distinct keys from kcat, want %d", len(seen), n)
	}

	// franz-go produces; kcat consumes to the end and exits.
	prod := b.client(kgo.DefaultProduceTopic("kc2"), kgo.AllowAutoTopicCreation())
	b.createTopic(b.client(), "kc2", 1)
	ctx := ctxTimeout(t, 30*time.Second)
	for i := 0; i < 100; i++ {
		prod.Produce(ctx, &kgo.Record{Key: []byte(keyOf(i)), Value: []byte(fmt.Sprintf("v%d", i)),
			Headers: []kgo.RecordHeader{{Key: "n", Value: []byte(fmt.Sprint(i))}}}, nil)
	}
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	out := runKcat(t, "", "-b", b.addr(), "-t", "kc2", "-C", "-o", "beginning", "-e", "-q", "-f", "%k=%s|%h|%o\n")
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != 100 {
		t.Fatalf("kcat consumed %d records, want 100:\n%s", len(got), out)
	}
	sort.Strings(got)
	for i := 0; i < 100; i++ {
		want := fmt.Sprintf("%s=v%d|n=%d|%d", keyOf(i), i, i, i)
		if got[i] != want {
			t.Fatalf("kcat line %d: %q, want %q", i, got[i], want)
		}
	}
}

func TestKcatAuthenticatesWithSASLPlain(t *testing.T) {
	kcatPath(t)
	b := startBroker(t, Config{Authenticate: authAlice, AutoCreateTopics: true})
	sasl := []string{"-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice"}
	runKcat(t, "hello\n", append(append([]string{"-b", b.addr(), "-t", "sasl", "-P"}, sasl...), "-X", "sasl.password=s3cret")...)
	out := runKcat(t, "", append(append([]string{"-b", b.addr(), "-t", "sasl", "-C", "-o", "beginning", "-e", "-q"}, sasl...), "-X", "sasl.password=s3cret")...)
	if strings.TrimSpace(out) != "hello" {
		t.Fatalf("kcat read %q", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), append(append([]string{"-b", b.addr(), "-L", "-m", "2"}, sasl...), "-X", "sasl.password=wrong")...)
	if outb, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("kcat with a wrong password succeeded:\n%s", outb)
	}
}

func TestKcatGroupConsumerCommitsAndResumes(t *testing.T) {
	kcatPath(t)
	b := startBroker(t, Config{})
	b.createTopic(b.client(), "kg", 3)
	prod := b.client(kgo.DefaultProduceTopic("kg"))
	ctx := ctxTimeout(t, 30*time.Second)
	produce := func(from, to int) {
		for i := from; i < to; i++ {
			if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(keyOf(i)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	consume := func() []string {
		out := runKcat(t, "", "-b", b.addr(), "-G", "kgroup", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%s\n", "kg")
		got := strings.Fields(out)
		sort.Slice(got, func(i, j int) bool { return len(got[i]) < len(got[j]) || len(got[i]) == len(got[j]) && got[i] < got[j] })
		return got
	}
	produce(0, 30)
	if got := consume(); len(got) != 30 || got[0] != "0" || got[29] != "29" {
		t.Fatalf("first kcat group run read %v", got)
	}
	produce(30, 35)
	// The group's committed offsets send the second run past what the
	// first one read.
	if got := consume(); strings.Join(got, " ") != "30 31 32 33 34" {
		t.Fatalf("second kcat group run read %v", got)
	}
}
