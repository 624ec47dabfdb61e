package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream through nats.go's jetstream package, as applications use it.

func startJS(t testing.TB, mutate ...func(*config.Options)) *Server {
	t.Helper()
	dir := t.TempDir()
	return startServer(t, append([]func(*config.Options){func(o *config.Options) {
		o.JetStream, o.StoreDir = true, dir
	}}, mutate...)...)
}

func jsClient(t testing.TB, s *Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := connect(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func createStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	st, err := js.CreateStream(ctx(t), cfg)
	if err != nil {
		t.Fatalf("CreateStream %s: %v", cfg.Name, err)
	}
	return st
}

func wantAPIError(t *testing.T, err error, code jetstream.ErrorCode) {
	t.Helper()
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != code {
		t.Fatalf("err = %v, want API error %d", err, code)
	}
}

func TestJetStreamDisabled(t *testing.T) {
	s := startServer(t)
	_, js := jsClient(t, s)
	_, err := js.AccountInfo(ctx(t))
	if !errors.Is(err, jetstream.ErrJetStreamNotEnabled) {
		t.Fatalf("err = %v, want ErrJetStreamNotEnabled", err)
	}
}

func TestAccountInfo(t *testing.T) {
	s := startJS(t)
	_, js := jsClient(t, s)
	createStream(t, js, jetstream.StreamConfig{Name: "A", Subjects: []string{"a.>"}})
	js.Publish(ctx(t), "a.1", []byte("hello"))
	info, err := js.AccountInfo(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if info.Streams != 1 || info.Store == 0 || info.Limits.MaxStreams != -1 || info.API.Level < 1 {
		t.Fatalf("account info %+v", info)
	}
}

func TestStreamLifecycle(t *testing.T) {
	s := startJS(t)
	_, js := jsClient(t, s)
	cfg := jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}}
	st := createStream(t, js, cfg)
	info := st.CachedInfo()
	c := info.Config
	if c.Retention != jetstream.LimitsPolicy || c.MaxMsgs != -1 || c.MaxBytes != -1 || c.Duplicates != 2*time.Minute ||
		c.Storage != jetstream.FileStorage || c.Replicas != 1 || c.MaxMsgSize != -1 || c.Discard != jetstream.DiscardOld {
		t.Fatalf("defaults not filled in: %+v", c)
	}
	// Identical create is idempotent; a different one is refused.
	createStream(t, js, cfg)
	_, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"other"}})
	if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		t.Fatalf("different config: %v", err)
	}
	_, err = js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "OVERLAP", Subjects: []string{"orders.eu"}})
	wantAPIError(t, err, 10065)

	// Update: limits may change, storage may not.
	upd, err := js.UpdateStream(ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>", "returns.>"}, MaxMsgs: 10})
	if err != nil || upd.CachedInfo().Config.MaxMsgs != 10 {
		t.Fatalf("update: %v", err)
	}
	_, err = js.UpdateStream(ctx(t), jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.>"}, Storage: jetstream.MemoryStorage})
	wantAPIError(t, err, 10052)
	if _, err := js.Publish(ctx(t), "returns.1", nil); err != nil {
		t.Fatalf("publish to added subject: %v", err)
	}
	_, err = js.UpdateStream(ctx(t), jetstream.StreamConfig{Name: "MISSING"})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("update missing: %v", err)
	}

	// Names and list, with paging done by the client.
	for i := 0; i < 5; i++ {
		createStream(t, js, jetstream.StreamConfig{Name: fmt.Sprintf("S%d", i), Storage: jetstream.MemoryStorage})
	}
	var names []string
	for n := range js.StreamNames(ctx(t)).Name() {
		names = append(names, n)
	}
	if len(names) != 6 || names[0] != "ORDERS" || names[5] != "S4" {
		t.Fatalf("names %v", names)
	}
	count := 0
	for range js.ListStreams(ctx(t), jetstream.WithStreamListSubject("orders.x")).Info() {
		count++
	}
	if count != 1 {
		t.Fatalf("filtered list has %d streams", count)
	}

	if err := js.DeleteStream(ctx(t), "ORDERS"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(ctx(t), "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := js.DeleteStream(ctx(t), "ORDERS"); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// Its subjects are free again: a plain publish now reaches nobody.
	if _, err := js.Publish(ctx(t), "orders.1", nil, jetstream.WithRetryAttempts(0)); !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("publish after delete: %v", err)
	}
}

func TestStreamConfigErrors(t *testing.T) {
	s := startJS(t)
	nc, js := jsClient(t, s)
	_, err := js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "R", Replicas: 3})
	wantAPIError(t, err, 10074)
	_, err = js.CreateStream(ctx(t), jetstream.StreamConfig{Name: "R", DenyPurge: true, AllowRollup: true})
	wantAPIError(t, err, 10052)
	// Raw requests: bad JSON, name mismatch, empty body.
	for body, code := range map[string]int{`{bad`: 10025, `{"name":"OTHER"}`: 10056, ``: 10056} {
		m, err := nc.Request("$JS.API.STREAM.CREATE.X", []byte(body), msgWait)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Error *struct {
				ErrCode int `json:"err_code"`
			} `json:"error"`
		}
		if err := jsonUnmarshal(m.Data, &resp); err != nil || resp.Error == nil || resp.Error.ErrCode != code {
			t.Errorf("body %q: response %s, want err_code %d", body, m.Data, code)
		}
	}
}
