package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/internal/testtools"
)

// freePort finds a loopback port for a listener that must keep its port
// across a restart.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func mqttClient(t *testing.T, broker, id string, clean bool, mutate ...func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(broker).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	for _, m := range mutate {
		m(o)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("MQTT connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func wait(t *testing.T, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

// TestMQTTQoS1SurvivesSIGKILL: QoS 1 messages acknowledged to their
// publisher, a persistent session's subscription, and a message delivered
// but not acknowledged all survive a SIGKILL of the broker.
func TestMQTTQoS1SurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	broker := fmt.Sprintf("tcp://127.0.0.1:%d", port)
	conf := writeConfig(t, fmt.Sprintf("mqtt { listen: \"127.0.0.1:%d\" }\n", port))
	c := startMidge(t, "-js", "-sd", dir, "-c", conf)

	// A persistent subscriber that goes away, and one that stays but never
	// acknowledges what it gets.
	away := mqttClient(t, broker, "away", false)
	wait(t, "subscribe", away.Subscribe("crash/+", 1, func(paho.Client, paho.Message) {}))
	away.Disconnect(100)
	held := make(chan paho.Message, 16)
	silent := mqttClient(t, broker, "silent", false, func(o *paho.ClientOptions) { o.SetAutoAckDisabled(true) })
	wait(t, "subscribe", silent.Subscribe("held", 1, func(_ paho.Client, m paho.Message) { held <- m }))

	pub := mqttClient(t, broker, "pub", true)
	const n = 200
	for i := 0; i < n; i++ {
		wait(t, "publish", pub.Publish(fmt.Sprintf("crash/%d", i%5), 1, false, strconv.Itoa(i)))
	}
	wait(t, "publish held", pub.Publish("held", 1, false, "unacked"))
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("held message not delivered")
	}

	c.cmd.Process.Signal(syscall.SIGKILL)
	c.wait(t)
	startMidge(t, "-js", "-sd", dir, "-c", conf)

	got := make(chan paho.Message, 2*n)
	mqttClient(t, broker, "away", false, func(o *paho.ClientOptions) {
		o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { got <- m })
	})
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case m := <-got:
			seen[string(m.Payload())] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("after the restart %d of %d messages arrived", len(seen), n)
		}
	}
	again := make(chan paho.Message, 16)
	mqttClient(t, broker, "silent", false, func(o *paho.ClientOptions) {
		o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { again <- m })
	})
	select {
	case m := <-again:
		if string(m.Payload()) != "unacked" || !m.Duplicate() {
			t.Fatalf("redelivered %q dup=%v", m.Payload(), m.Duplicate())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the unacknowledged message was not sent again after the restart")
	}
}

func mosquitto(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		testtools.Command(t, tool, "apt-get install mosquitto-clients")
	}
}

// TestMosquittoClients drives midge with the mosquitto command-line
// clients: both directions with NATS, retained messages, a will, and
// user/password authentication.
func TestMosquittoClients(t *testing.T) {
	mosquitto(t)
	port := freePort(t)
	conf := writeConfig(t, fmt.Sprintf(`
mqtt { listen: "127.0.0.1:%d" }
authorization { users: [ {user: dev, password: s3cret} ] }
`, port))
	c := startMidge(t, "-js", "-sd", t.TempDir(), "-c", conf)
	nc, err := nats.Connect(c.url(), nats.UserInfo("dev", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	mq := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "dev", "-P", "s3cret"}
	run := func(tool string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, tool, append(append([]string{}, mq...), args...)...).CombinedOutput()
		return string(out), err
	}

	// MQTT to NATS.
	sub, _ := nc.SubscribeSync("plant.>")
	nc.Flush()
	if out, err := run("mosquitto_pub", "-q", "1", "-t", "plant/pump/1", "-m", "on"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	if m, err := sub.NextMsg(5 * time.Second); err != nil || m.Subject != "plant.pump.1" || string(m.Data) != "on" {
		t.Fatalf("NATS got %v %v", m, err)
	}

	// Retained, then read by a fresh subscriber.
	if out, err := run("mosquitto_pub", "-r", "-q", "1", "-t", "plant/valve", "-m", "closed"); err != nil {
		t.Fatalf("mosquitto_pub -r: %v %s", err, out)
	}
	if out, err := run("mosquitto_sub", "-t", "plant/+", "-C", "1", "-v", "-q", "1", "-W", "10"); err != nil || strings.TrimSpace(out) != "plant/valve closed" {
		t.Fatalf("retained via mosquitto_sub: %v %q", err, out)
	}

	// NATS to MQTT: publish until the subscriber (which has no ready
	// signal) got one, a bounded number of times.
	subCmd := exec.Command("mosquitto_sub", append(append([]string{}, mq...), "-t", "alerts/#", "-C", "1", "-v", "-W", "10")...)
	var out bytes.Buffer
	subCmd.Stdout = &out
	if err := subCmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- subCmd.Wait() }()
	var subErr error
publish:
	for i := 0; i < 200; i++ {
		nc.Publish("alerts.fire", []byte("evacuate"))
		select {
		case subErr = <-done:
			break publish
		case <-time.After(50 * time.Millisecond):
		}
	}
	if subErr != nil || strings.TrimSpace(out.String()) != "alerts/fire evacuate" {
		t.Fatalf("mosquitto_sub from NATS: %v %q", subErr, out.String())
	}

	// A will, when mosquitto_sub is killed: once it shows it is subscribed
	// (it printed a message), SIGKILL.
	wills, _ := nc.SubscribeSync("lastwill.>")
	nc.Flush()
	victim := exec.Command("mosquitto_sub", append(append([]string{}, mq...), "-t", "ping/victim",
		"--will-topic", "lastwill/sub", "--will-payload", "gone", "-i", "victim")...)
	stdout, _ := victim.StdoutPipe()
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	printed := make(chan struct{})
	go func() {
		b := make([]byte, 64)
		if n, _ := stdout.Read(b); n > 0 {
			close(printed)
		}
		io.Copy(io.Discard, stdout)
	}()
waitSubscribed:
	for i := 0; i < 200; i++ {
		nc.Publish("ping.victim", []byte("x"))
		select {
		case <-printed:
			break waitSubscribed
		case <-time.After(50 * time.Millisecond):
		}
	}
	victim.Process.Signal(syscall.SIGKILL)
	victim.Wait()
	if will, err := wills.NextMsg(5 * time.Second); err != nil || string(will.Data) != "gone" {
		t.Fatalf("will %v %v", will, err)
	}

	// Wrong password.
	if out, err := run("mosquitto_pub", "-P", "wrong", "-t", "x", "-m", "y"); err == nil {
		t.Fatalf("mosquitto_pub with a wrong password succeeded: %s", out)
	} else if !strings.Contains(strings.ToLower(out), "not authori") {
		t.Fatalf("wrong password: %q", out)
	}
}
