package jsapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream through nats.go's jetstream package, as applications use it.

func TestJetStreamDisabled(t *testing.T) {
	s := testutil.StartServer(t)
	_, js := testutil.JSClient(t, s)
	_, err := js.AccountInfo(testutil.Ctx(t))
	if !errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		t.Fatalf("err = %v, want ErrJetStreamNotEnabled", err)
	}
}

func TestAccountInfo(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "A", Subjects: []string{"a.>"}})
	js.Publish(testutil.Ctx(t), "a.1", []byte("hello"))
	info, err := js.AccountInfo(testutil.Ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Streams != 1 || info.Store == 0 || info.Limits.MaxStreams != -1 || info.API.Level < 1 {
		t.Fatalf("account info %+v", info)
	}
}

func TestStreamLifecycle(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	cfg := jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}
	st := testutil.CreateStream(t, js, cfg)
	info := st.CachedInfo()
	c := info.Config
	if c.Retention != jetstream.LimitsPolicy || c.MaxMsgs != -1 || c.MaxBytes != -1 || c.Duplicates != 2*time.Minute ||
		c.Storage != jetstream.FileStorage || c.Replicas != 1 || c.MaxMsgSize != -1 || c.Discard != jetstream.DiscardOld {
		t.Fatalf("defaults not filled in: %+v", c)
	}
	// Identical create is idempotent; a different one is refused.
	testutil.CreateStream(t, js, cfg)
	_, err := js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"other"}})
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		t.Fatalf("different config: %v", err)
	}
	_, err = js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "OVERLAP", Subjects: []string{"orders.eu"}})
	testutil.WantAPIError(t, err, 10065)

	// Update: limits may change, storage may not.
	upd, err := js.UpdateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>", "returns.>"}, MaxMsgs: 10})
	if err != nil || upd.CachedInfo().Config.MaxMsgs != 10 {
		t.Fatalf("update: %v", err)
	}
	_, err = js.UpdateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: jetstream.MemoryStorage})
	testutil.WantAPIError(t, err, 10052)
	if _, err := js.Publish(testutil.Ctx(t), "returns.1", nil); err != nil {
		t.Fatalf("publish to added subject: %v", err)
	}
	_, err = js.UpdateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "MISSING"})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("update missing: %v", err)
	}

	// Names and list, with paging done by the client.
	for i := 0; i < 5; i++ {
		testutil.CreateStream(t, js, jetstream.StreamConfig{Name: fmt.Sprintf("S%d", i), Storage: jetstream.MemoryStorage})
	}
	var names []string
	for n := range js.StreamNames(testutil.Ctx(t)).Name() {
		names = append(names, n)
	}
	if len(names) != 6 || names[0] != "ORDERS" || names[5] != "S4" {
		t.Fatalf("names %v", names)
	}
	count := 0
	for range js.ListStreams(testutil.Ctx(t), jetstream.WithStreamListSubject("orders.x")).Info() {
		count++
	}
	if count != 1 {
		t.Fatalf("filtered list has %d streams", count)
	}

	if err := js.DeleteStream(testutil.Ctx(t), "ORDERS"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(testutil.Ctx(t), "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := js.DeleteStream(testutil.Ctx(t), "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Its subjects are free again: a plain publish now reaches nobody.
	if _, err := js.Publish(testutil.Ctx(t), "orders.1", nil, jetstream.WithRetryAttempts(0)); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("publish after delete: %v", err)
	}
}

func TestStreamConfigErrors(t *testing.T) {
	s := testutil.StartJS(t)
	nc, js := testutil.JSClient(t, s)
	_, err := js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "R", Replicas: 3})
	testutil.WantAPIError(t, err, 10074)
	_, err = js.CreateStream(testutil.Ctx(t), jetstream.StreamConfig{Name: "R", DenyPurge: true, AllowRollup: true})
	testutil.WantAPIError(t, err, 10052)
	// Raw requests: bad JSON, name mismatch, empty body.
	for body, code := range map[string]int{`{bad`: 10025, `{"name":"OTHER"}`: 10056, ``: 10056} {
		m, err := nc.Request("$JS.API.STREAM.CREATE.X", []byte(body), testutil.MsgWait)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Error *struct {
				ErrCode int `json:"err_code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &resp); err != nil || resp.Error == nil || resp.Error.ErrCode != code {
			t.Errorf("body %q: response %s, want err_code %d", body, m.Data, code)
		}
	}
}
