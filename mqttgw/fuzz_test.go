package mqttgw_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/internal/fuzzguard"
	"github.com/midgemq/midge/mqtt"
	"github.com/midgemq/midge/server"
)

// FuzzMQTTConnection sends arbitrary bytes after a valid CONNECT to a real
// server with JetStream. Whatever the bytes, the connection must end (the
// client half-closes), the server must stay responsive, and nothing may
// reach subjects of the server's own MQTT state ($MQTT.msgs/rmsgs/sess),
// which a NATS watcher on ">" would see.
func FuzzMQTTConnection(f *testing.F) {
	seeds := [][]byte{
		mqtt.Append(nil, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a/#", QoS: 1}}}),
		mqtt.Append(nil, &mqtt.Publish{Topic: "a/b", QoS: 1, PacketID: 2, Retain: true, Payload: []byte("x")}),
		mqtt.Append(nil, &mqtt.Publish{Topic: "$MQTT/sess/x", Payload: []byte("forged")}),
		mqtt.Append(nil, &mqtt.Unsubscribe{PacketID: 3, Filters: []string{"a/#"}}),
		{0xC0, 0, 0xE0, 0},
		{0x30, 0xff, 0xff, 0xff, 0x7f},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	s := startMQTTServer(f)
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		f.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var forged []string
	nc.Subscribe(">", func(m *nats.Msg) {
		for _, p := range []string{"$MQTT.msgs.", "$MQTT.rmsgs.", "$MQTT.sess."} {
			if strings.HasPrefix(m.Subject, p) {
				mu.Lock()
				forged = append(forged, m.Subject)
				mu.Unlock()
			}
		}
	})
	nc.Flush()
	connect := mqtt.Append(nil, &mqtt.Connect{ProtocolName: "MQTT", ProtocolLevel: 4, ClientID: "fuzz", CleanSession: true})
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzguard.Run(t, data, func() error {
			if err := playMQTT(s, append(append([]byte(nil), connect...), data...)); err != nil {
				return err
			}
			if err := nc.Flush(); err != nil {
				return fmt.Errorf("server unresponsive: %w", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(forged) > 0 {
				return fmt.Errorf("internal subjects published: %q", forged)
			}
			return nil
		})
	})
}

// playMQTT plays one connection and waits for the server to end it.
func playMQTT(s *server.Server, input []byte) error {
	conn, err := net.Dial("tcp", s.MQTTAddr().String())
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Write(input); err != nil && !isConnReset(err) && !errors.Is(err, net.ErrClosed) {
		return nil // the server may close mid-write; that is an answer too
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil && !isConnReset(err) {
		return fmt.Errorf("connection not closed by the server: %w", err)
	}
	return nil
}
