package monitor_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	mqttc "github.com/eclipse/paho.mqtt.golang"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// /varz and /metrics count clients and messages per protocol.
func TestMonitoringCountsPerProtocol(t *testing.T) {
	s := testutil.StartServer(t, func(o *config.Options) {
		o.HTTPHost, o.HTTPPort = "127.0.0.1", config.MonitorRandomPort
		o.WebSocket = config.WebSocketOptions{Host: "127.0.0.1", Port: -1, NoTLS: true}
		o.MQTT = config.MQTTOptions{Host: "127.0.0.1", Port: -1}
	})
	ws := wsConnect(t, s)
	ws.Publish("p.ws", []byte("from websocket"))
	ws.Flush()
	mc := mqttc.NewClient(mqttc.NewClientOptions().AddBroker(s.MQTTURL()).SetClientID("counter"))
	if tok := mc.Connect(); !tok.WaitTimeout(testutil.MsgWait) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	defer mc.Disconnect(0)
	if tok := mc.Publish("p/mqtt", 0, false, "from mqtt"); !tok.WaitTimeout(testutil.MsgWait) || tok.Error() != nil {
		t.Fatalf("mqtt publish: %v", tok.Error())
	}
	testutil.WaitFor(t, "mqtt publish counted", func() bool { return s.ProtocolStats().MQTT.InMsgs == 1 })

	resp, err := http.Get(fmt.Sprintf("http://%s/varz", s.MonitorAddr()))
	if err != nil {
		t.Fatal(err)
	}
	var v monitor.Varz
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	if v.Websocket.Port != s.WebSocketAddr().Port || v.Websocket.Stats == nil || v.Websocket.Stats.InMsgs != 1 ||
		v.Websocket.Stats.Connections != 1 || v.MQTT.Stats == nil || v.MQTT.Stats.InMsgs != 1 || v.MQTT.Port != s.MQTTAddr().Port {
		t.Fatalf("varz websocket %+v mqtt %+v", v.Websocket, v.MQTT)
	}
	resp, err = http.Get(fmt.Sprintf("http://%s/metrics", s.MonitorAddr()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`midge_protocol_in_msgs_total{protocol="websocket"} 1`, `midge_protocol_in_msgs_total{protocol="mqtt"} 1`,
		`midge_protocol_connections{protocol="mqtt"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func wsConnect(t *testing.T, s *server.Server, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.WebSocketURL(), append([]nats.Option{nats.MaxReconnects(0)}, opts...)...)
	if err != nil {
		t.Fatalf("websocket connect to %s: %v", s.WebSocketURL(), err)
	}
	t.Cleanup(nc.Close)
	return nc
}
