package jsapi_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
)

// accountsConfig declares accounts as nats-server's format does: A with
// JetStream, B without, C with limits. %s is the store directory.
const accountsConfig = `
listen: 127.0.0.1:-1
jetstream { store_dir: %q }
accounts {
  A { jetstream: enabled, users: [ {user: a, password: a} ] }
  B { users: [ {user: b, password: b} ] }
  C { jetstream { max_mem: 1M, max_file: 2000, max_streams: 2, max_consumers: 1 }, users: [ {user: c, password: c} ] }
}
`

// startFromConfig starts midge from configuration text.
func startFromConfig(t *testing.T, text string) string {
	t.Helper()
	o, err := config.ParseConfig(text)
	if err != nil {
		t.Fatal(err)
	}
	o.Port = 0
	s := testutil.StartServer(t, func(opts *config.Options) { *opts = o; opts.Port = 0 })
	return s.ClientURL()
}

// startReferenceFromConfig starts the reference server from configuration
// text and returns its URL.
func startReferenceFromConfig(t *testing.T, text string) string {
	t.Helper()
	bin := testtools.GoBinary(t, "nats-server", "go install github.com/nats-io/nats-server/v2@v2.15.2")
	file := filepath.Join(t.TempDir(), "ref.conf")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", file)
	return "nats://" + startReferenceCmd(t, cmd)
}

// accountSteps runs the account scenario against url and describes each
// answer: "ok", or "code/err_code description".
func accountSteps(t *testing.T, url string) []string {
	t.Helper()
	conn := func(user string) *nats.Conn {
		nc, err := nats.Connect(url, nats.UserInfo(user, user))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a, b, c := conn("a"), conn("b"), conn("c")
	var out []string
	ask := func(nc *nats.Conn, subject, body string) {
		t.Helper()
		msg, err := nc.Request(subject, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		var r struct {
			Type  string `json:"type"`
			Error *struct {
				Code        int    `json:"code"`
				ErrCode     int    `json:"err_code"`
				Description string `json:"description"`
			} `json:"error"`
		}
		json.Unmarshal(msg.Data, &r)
		if r.Error == nil {
			out = append(out, subject+" ok")
			return
		}
		out = append(out, fmt.Sprintf("%s %s %d/%d %s", subject, r.Type, r.Error.Code, r.Error.ErrCode, r.Error.Description))
	}
	ask(a, "$JS.API.INFO", "")
	ask(b, "$JS.API.INFO", "")
	ask(b, "$JS.API.STREAM.CREATE.X", `{"name":"X"}`)
	ask(c, "$JS.API.STREAM.CREATE.S1", `{"name":"S1","max_bytes":1000}`)
	ask(c, "$JS.API.STREAM.CREATE.S2", `{"name":"S2","max_bytes":5000}`)
	ask(c, "$JS.API.STREAM.CREATE.S3", `{"name":"S3","storage":"memory","max_bytes":2000000}`)
	ask(c, "$JS.API.STREAM.CREATE.S4", `{"name":"S4"}`)
	ask(c, "$JS.API.STREAM.CREATE.S5", `{"name":"S5"}`)
	ask(c, "$JS.API.CONSUMER.CREATE.S4.D1", `{"stream_name":"S4","config":{"durable_name":"D1","ack_policy":"explicit"}}`)
	ask(c, "$JS.API.CONSUMER.CREATE.S4.D2", `{"stream_name":"S4","config":{"durable_name":"D2","ack_policy":"explicit"}}`)
	payload := strings.Repeat("x", 500)
	for i := 0; i < 5; i++ {
		ask(c, "S4", payload)
	}
	return out
}

// TestAccountJetStreamAndLimits: with accounts declared, JetStream is for
// those that enable it (the others answer 10039), and the account limits
// of the reference format are enforced with the reference's errors.
func TestAccountJetStreamAndLimits(t *testing.T) {
	got := accountSteps(t, startFromConfig(t, fmt.Sprintf(accountsConfig, t.TempDir())))
	want := []string{
		"$JS.API.INFO ok",
		"$JS.API.INFO io.nats.jetstream.api.v1.account_info_response 503/10039 JetStream not enabled for account",
		"$JS.API.STREAM.CREATE.X io.nats.jetstream.api.v1.stream_create_response 503/10039 JetStream not enabled for account",
		"$JS.API.STREAM.CREATE.S1 ok",
		"$JS.API.STREAM.CREATE.S2 io.nats.jetstream.api.v1.stream_create_response 500/10047 insufficient storage resources available",
		"$JS.API.STREAM.CREATE.S3 io.nats.jetstream.api.v1.stream_create_response 500/10028 insufficient memory resources available",
		"$JS.API.STREAM.CREATE.S4 ok",
		"$JS.API.STREAM.CREATE.S5 io.nats.jetstream.api.v1.stream_create_response 400/10027 maximum number of streams reached",
		"$JS.API.CONSUMER.CREATE.S4.D1 ok",
		"$JS.API.CONSUMER.CREATE.S4.D2 io.nats.jetstream.api.v1.consumer_create_response 400/10026 maximum consumers limit reached",
		"S4 ok", "S4 ok", "S4 ok", // 3 × 532 bytes of 2000
		"S4  400/10002 resource limits exceeded for account",
		"S4  400/10002 resource limits exceeded for account",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAccountJetStreamAndLimitsMatchReference(t *testing.T) {
	text := fmt.Sprintf(accountsConfig, t.TempDir())
	ref := accountSteps(t, startReferenceFromConfig(t, text))
	got := accountSteps(t, startFromConfig(t, fmt.Sprintf(accountsConfig, t.TempDir())))
	if strings.Join(got, "\n") != strings.Join(ref, "\n") {
		t.Fatalf("midge:\n%s\nreference:\n%s", strings.Join(got, "\n"), strings.Join(ref, "\n"))
	}
}

// TestServerStorageLimits: max_file_store and max_memory_store bound every
// account's streams together, with the reference server's errors.
func TestServerStorageLimits(t *testing.T) {
	s := testutil.StartJS(t, func(o *config.Options) { o.JetStreamMaxFile, o.JetStreamMaxMemory = 20000, 10000 })
	nc, js := testutil.JSClient(t, s)
	_, err := js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "BIG", MaxBytes: 30000})
	testutil.WantAPIError(t, err, 10047)
	_, err = js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "MEM", Storage: jetstream.MemoryStorage, MaxBytes: 20000})
	testutil.WantAPIError(t, err, 10028)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "F", Subjects: []string{"f"}})
	payload := make([]byte, 4000)
	stored := 0
	for i := 0; i < 10; i++ {
		_, err := js.Publish(testutil.Ctx(t), "f", payload)
		if err != nil {
			testutil.WantAPIError(t, err, 10023)
			break
		}
		stored++
	}
	if stored != 4 { // 4 × 4031 bytes of 20000; the fifth would pass it
		t.Fatalf("%d stored", stored)
	}
	var info struct {
		Storage         uint64 `json:"storage"`
		ReservedStorage uint64 `json:"reserved_storage"`
	}
	msg, err := nc.Request("$JS.API.INFO", nil, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(msg.Data, &info)
	if info.Storage != 4*4031 {
		t.Fatalf("account info storage %d", info.Storage)
	}
}

// TestJetStreamDomain: with a domain the API answers on $JS.<domain>.API
// (nats.go's WithDomain), and account info and publish acks name it.
func TestJetStreamDomain(t *testing.T) {
	s := testutil.StartJS(t, func(o *config.Options) { o.JetStreamDomain = "hub" })
	nc := testutil.Connect(t, s)
	js, err := jetstream.NewWithDomain(nc, "hub")
	if err != nil {
		t.Fatal(err)
	}
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "D", Subjects: []string{"d"}})
	ack, err := js.Publish(testutil.Ctx(t), "d", []byte("x"))
	if err != nil || ack.Domain != "hub" || ack.Sequence != 1 {
		t.Fatalf("ack %+v %v", ack, err)
	}
	info, err := js.AccountInfo(testutil.Ctx(t))
	if err != nil || info.Domain != "hub" {
		t.Fatalf("account info %+v %v", info, err)
	}
	cons, err := st.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{Durable: "C", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second)) // a pull through $JS.hub.API
	if err != nil || string(m.Data()) != "x" {
		t.Fatalf("next: %v", err)
	}
	// The plain API is still served.
	plain, _ := jetstream.New(nc)
	if _, err := plain.Stream(testutil.Ctx(t), "D"); err != nil {
		t.Fatal(err)
	}
}
