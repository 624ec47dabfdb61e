package config

import (
	"strings"
	"testing"
	"time"
)

func TestClusterBlock(t *testing.T) {
	o, err := ParseConfig(`
server_name: n1
cluster {
  name: c1
  listen: "127.0.0.1:-1"
  routes: [nats-route://127.0.0.1:6222, "nats-route://127.0.0.1:6223"]
  no_advertise: true
  ping_interval: "5s"
  ping_max: 3
}`)
	if err != nil {
		t.Fatal(err)
	}
	c := o.Cluster
	if c.Name != "c1" || c.Host != "127.0.0.1" || c.Port != -1 || len(c.Routes) != 2 || !c.NoAdvertise ||
		c.PingInterval != 5*time.Second || c.MaxPingsOut != 3 || !c.Enabled() {
		t.Fatalf("%+v", c)
	}
	if len(o.ConfigWarnings) != 0 {
		t.Fatalf("warnings %v", o.ConfigWarnings)
	}
}

func TestClusterBlockErrors(t *testing.T) {
	for text, want := range map[string]string{
		"cluster { routes: [\"http://h:1\"] }": "scheme",
		"cluster { name: \"a b\" }":            "spaces",
		"cluster { listen: \"nohost\" }":       "host:port",
		"cluster { pool_sizze: 3 }":            "pool_sizze",
		"cluster { routes: [nats-route://h] }": "host:port",
		"cluster { port: 70000 }":              "out of range",
	} {
		_, err := ParseConfig(text)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v (want %q)", text, err, want)
		}
	}
	o := Options{Cluster: ClusterOptions{Routes: []string{"nats-route://h:1"}}}
	if err := o.Validate(); err == nil {
		t.Error("routes without a cluster port validated")
	}
}
