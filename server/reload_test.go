package server_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/logging/logtest"
	"github.com/midgemq/midge/monitor"
	"github.com/nats-io/nats.go"
)

func TestReloadAppliesLiveWithoutDroppingConnections(t *testing.T) {
	logs := logtest.New()
	s := testutil.StartServerLogged(t, logs, testutil.WithMonitor)
	old := testutil.Connect(t, s)
	sub, err := old.SubscribeSync("reload.>")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, old)
	loadedBefore := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath).ConfigLoadTime

	next := *s.Options()
	next.MaxPayload, next.PingInterval, next.Trace = 512, time.Minute, true
	if err := s.Reload(next); err != nil {
		t.Fatal(err)
	}

	// New connections get the new limit in their INFO; the old one keeps
	// what it negotiated and stays connected.
	fresh := testutil.Connect(t, s)
	if fresh.MaxPayload() != 512 || old.MaxPayload() != config.DefaultMaxPayload {
		t.Fatalf("max payload: fresh %d, old %d", fresh.MaxPayload(), old.MaxPayload())
	}
	if err := fresh.Publish("reload.big", make([]byte, 600)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("600 bytes on the fresh connection: %v", err)
	}
	if err := old.Publish("reload.after", []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m := testutil.NextMsg(t, sub); string(m.Data) != "still here" || !old.IsConnected() {
		t.Fatalf("old connection after reload: %q connected=%v", m.Data, old.IsConnected())
	}
	// Tracing was switched on for the connection that already existed.
	oldID, _ := old.GetClientID()
	traced := len(logs.Filter("<<- [PUB reload.after 10]", "cid", oldID))
	if traced == 0 {
		t.Fatal("PUB on the existing connection not traced after reload")
	}
	reloaded := logs.Filter("configuration reloaded")
	if len(reloaded) != 1 || !strings.Contains(fmt.Sprint(reloaded[0].Fields["changed"]), "MaxPayload=512") {
		t.Fatalf("reload log: %+v", reloaded)
	}

	v := testutil.GetJSON[monitor.Varz](t, s, monitor.VarzPath)
	if v.MaxPayload != 512 || v.PingInterval != time.Minute || !v.ConfigLoadTime.After(loadedBefore) {
		t.Fatalf("varz after reload: max_payload %d ping %v loaded %v (before %v)",
			v.MaxPayload, v.PingInterval, v.ConfigLoadTime, loadedBefore)
	}
	if s.NumClients() != 2 {
		t.Fatalf("%d clients after reload", s.NumClients())
	}
}

func TestReloadRefusesWhatCannotChangeAndKeepsConfig(t *testing.T) {
	s := testutil.StartServer(t, testutil.WithMonitor)
	nc := testutil.Connect(t, s)
	for _, tc := range []struct {
		name   string
		mutate func(*config.Options)
		want   string
	}{
		{"port", func(o *config.Options) { o.Port = 4333; o.MaxPayload = 100 }, "not supported for Port"},
		{"store", func(o *config.Options) { o.JetStream, o.StoreDir = true, "/elsewhere" }, "JetStream, StoreDir"},
		{"monitoring", func(o *config.Options) { o.HTTPBasePath = "/x" }, "HTTPBasePath"},
		{"lame duck", func(o *config.Options) { o.LameDuckGracePeriod = 3 * time.Minute }, "grace period"},
	} {
		next := *s.Options()
		tc.mutate(&next)
		err := s.Reload(next)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if o := s.Options(); o.MaxPayload != config.DefaultMaxPayload || o.LameDuckGracePeriod != config.DefaultLameDuckGracePeriod {
		t.Fatalf("configuration changed by a refused reload: %+v", o)
	}
	if !nc.IsConnected() {
		t.Fatal("client dropped")
	}
	// Zero values mean defaults, as for New: reloading them changes nothing.
	if err := s.Reload(config.Options{Host: s.Options().Host, HTTPPort: config.MonitorRandomPort}); err != nil {
		t.Fatalf("reload with defaults: %v", err)
	}
}
