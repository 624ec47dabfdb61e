package config_test

import (
	"net"
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
)

func TestConfigKafkaBlock(t *testing.T) {
	o, err := config.ParseConfig(`kafka {
  listen: "127.0.0.2:9093"
  advertise: "kafka.example.com:19093"
  auto_create_topics: false
  default_partitions: 3
}`)
	if err != nil {
		t.Fatal(err)
	}
	k := o.Kafka
	if k.Host != "127.0.0.2" || k.Port != 9093 || k.Advertise != "kafka.example.com:19093" ||
		!k.NoAutoCreateTopics || k.DefaultPartitions != 3 || !k.Enabled() {
		t.Fatalf("kafka options %+v", k)
	}
	for text, port := range map[string]int{"kafka { port: -1 }": -1, "kafka { listen: -1 }": -1, "kafka { port: 9092 }": 9092} {
		o, err := config.ParseConfig(text)
		if err != nil || o.Kafka.Port != port || o.Kafka.NoAutoCreateTopics {
			t.Errorf("%s: %+v %v", text, o.Kafka, err)
		}
	}
	for _, bad := range []string{"kafka { port: 70000 }", "kafka { default_partitions: 0 }", "kafka { prot: 1 }",
		`kafka { auto_create_topics: "maybe" }`} {
		if _, err := config.ParseConfig(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// The listener needs JetStream and a usable advertised address.
func TestConfigKafkaValidation(t *testing.T) {
	for _, tc := range []struct {
		kafka config.KafkaOptions
		js    bool
		want  string
	}{
		{config.KafkaOptions{Port: -1}, false, "JetStream"},
		{config.KafkaOptions{Port: -1, Advertise: "no-port"}, true, "advertise"},
		{config.KafkaOptions{Port: -1, Advertise: "host:99999"}, true, "advertise"},
		{config.KafkaOptions{Port: -3}, true, "kafka port"},
	} {
		o := config.DefaultOptions()
		o.Kafka, o.JetStream = tc.kafka, tc.js
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v (JetStream %v): %v, want an error about %s", tc.kafka, tc.js, err, tc.want)
		}
	}
	o := config.DefaultOptions()
	o.Kafka, o.JetStream = config.KafkaOptions{Port: -1, Advertise: "k:9092"}, true
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Given only a port, the Kafka listener binds the clients' host, like the
// other secondary listeners.
func TestConfigKafkaBindsTheClientHost(t *testing.T) {
	opts, err := config.ParseConfig(`listen: "127.0.0.1:-1"
jetstream { store_dir: "` + t.TempDir() + `" }
kafka { port: -1 }
`)
	if err != nil {
		t.Fatal(err)
	}
	s := testutil.StartServer(t, func(o *config.Options) { *o = opts })
	if a := s.KafkaAddr(); a == nil || !a.IP.Equal(net.IPv4(127, 0, 0, 1)) || a.Port == 0 {
		t.Fatalf("kafka listener bound %v, want 127.0.0.1 and a free port", a)
	}
}
