package testutil

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func StartJS(t testing.TB, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	dir := t.TempDir()
	return StartServer(t, append([]func(*config.Options){func(o *config.Options) {
		o.JetStream, o.StoreDir = true, dir
	}}, mutate...)...)
}

func JSClient(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc := Connect(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func Ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func CreateStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	st, err := js.CreateStream(Ctx(t), cfg)
	if err != nil {
		t.Fatalf("CreateStream %s: %v", cfg.Name, err)
	}
	return st
}

func WantAPIError(t *testing.T, err error, code jetstream.ErrorCode) {
	t.Helper()
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != code {
		t.Fatalf("err = %v, want API error %d", err, code)
	}
}
