package jsapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// serverLimitsConfig bounds the server's file and memory stores and names a
// JetStream domain, in nats-server's format. %q is the store directory.
const serverLimitsConfig = `
listen: 127.0.0.1:-1
jetstream { store_dir: %q, max_file_store: 20000, max_memory_store: 10000, domain: hub }
`

// serverLimitsRun is what a server answered to the scenario of
// serverLimitSteps.
type serverLimitsRun struct {
	steps    []string // one line per request: subject and outcome
	stored   int      // publishes acknowledged before the first refusal
	refusal  string   // that refusal's error
	infoLine string   // account info: usage, reservations, domain
}

// serverLimitSteps creates streams over and under the server's limits (through
// both API prefixes), fills a file stream until a publish is refused and
// reads account info.
func serverLimitSteps(t *testing.T, url string) serverLimitsRun {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	type answer struct {
		Error *struct {
			Code        int    `json:"code"`
			ErrCode     int    `json:"err_code"`
			Description string `json:"description"`
		} `json:"error"`
		DidCreate       bool   `json:"did_create"`
		Stream          string `json:"stream"`
		Domain          string `json:"domain"`
		Seq             uint64 `json:"seq"`
		Storage         uint64 `json:"storage"`
		ReservedStorage uint64 `json:"reserved_storage"`
		ReservedMemory  uint64 `json:"reserved_memory"`
	}
	ask := func(subject, body string) answer {
		t.Helper()
		msg, err := nc.Request(subject, []byte(body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
		var a answer
		if err := json.Unmarshal(msg.Data, &a); err != nil {
			t.Fatalf("%s: %q: %v", subject, msg.Data, err)
		}
		return a
	}
	describe := func(a answer) string {
		if a.Error != nil {
			return fmt.Sprintf("%d/%d %s", a.Error.Code, a.Error.ErrCode, a.Error.Description)
		}
		return fmt.Sprintf("created=%v stream=%q domain=%q seq=%d", a.DidCreate, a.Stream, a.Domain, a.Seq)
	}
	var run serverLimitsRun
	for _, req := range [][2]string{
		{"$JS.API.STREAM.CREATE.BIG", `{"name":"BIG","max_bytes":30000}`},
		{"$JS.API.STREAM.CREATE.MEM", `{"name":"MEM","storage":"memory","max_bytes":20000}`},
		{"$JS.API.STREAM.CREATE.MEM2", `{"name":"MEM2","storage":"memory","max_bytes":10000}`},
		{"$JS.API.STREAM.CREATE.MEM3", `{"name":"MEM3","storage":"memory","subjects":["m3"]}`},
		{"$JS.hub.API.STREAM.CREATE.F", `{"name":"F","subjects":["f"]}`},
		{"$JS.API.STREAM.CREATE.F2", `{"name":"F2","subjects":["f2"],"max_bytes":15000}`},
		{"f", "first"},
	} {
		run.steps = append(run.steps, req[0]+" "+describe(ask(req[0], req[1])))
	}
	payload := strings.Repeat("x", 4000)
	for i := 0; i < 10 && run.refusal == ""; i++ {
		if a := ask("f", payload); a.Error != nil {
			run.refusal = describe(a)
		} else {
			run.stored++
		}
	}
	info := ask("$JS.hub.API.INFO", "")
	run.infoLine = fmt.Sprintf("reserved memory %d storage %d, domain %q",
		info.ReservedMemory, info.ReservedStorage, info.Domain)
	return run
}

// TestServerStorageLimitsMatchReference: max_file_store, max_memory_store
// and domain behave as in the reference server: the same refusals with the
// same codes, reservations and domain in account info, $JS.<domain>.API
// served, acks naming the domain. One difference is deliberate: the
// reference refuses a publish once the store is already past its limit, so
// the publish that crosses it is stored; midge refuses that one too, so it
// may store one message fewer and never holds more than the limit.
func TestServerStorageLimitsMatchReference(t *testing.T) {
	ref := serverLimitSteps(t, startReferenceFromConfig(t, fmt.Sprintf(serverLimitsConfig, t.TempDir())))
	got := serverLimitSteps(t, startFromConfig(t, fmt.Sprintf(serverLimitsConfig, t.TempDir())))
	if strings.Join(got.steps, "\n") != strings.Join(ref.steps, "\n") {
		t.Fatalf("midge:\n%s\nreference:\n%s", strings.Join(got.steps, "\n"), strings.Join(ref.steps, "\n"))
	}
	if got.refusal != ref.refusal || got.infoLine != ref.infoLine {
		t.Fatalf("refusal %q, info %q; reference %q, %q", got.refusal, got.infoLine, ref.refusal, ref.infoLine)
	}
	if got.stored != ref.stored && got.stored != ref.stored-1 {
		t.Fatalf("midge stored %d before refusing, the reference %d", got.stored, ref.stored)
	}
}
