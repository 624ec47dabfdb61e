package testutil

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// AsyncErrors collects a connection's asynchronous errors.
type AsyncErrors struct {
	mu   sync.Mutex
	errs []string
	got  chan struct{}
}

func (a *AsyncErrors) Handler() nats.Option {
	a.got = make(chan struct{}, 16)
	return nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		a.mu.Lock()
		a.errs = append(a.errs, err.Error())
		a.mu.Unlock()
		a.got <- struct{}{}
	})
}

func (a *AsyncErrors) Next(t *testing.T) string {
	t.Helper()
	select {
	case <-a.got:
	case <-time.After(MsgWait):
		t.Fatal("no async error")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.errs[0]
	a.errs = a.errs[1:]
	return e
}
