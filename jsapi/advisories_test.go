package jsapi_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// JetStream advisories on $JS.EVENT.ADVISORY.>: subjects, order and JSON as
// the reference server sends them, asserted on midge and on the reference.

// advisories reads advisories. Each subject's advisories come in order;
// the reference server sends an audit and the action advisory of the same
// request in either order, so advisories on other subjects wait in held.
type advisories struct {
	t    *testing.T
	sub  *nats.Subscription
	held []*nats.Msg
}

// take returns the first advisory on subject, held or next to come.
func (a *advisories) take(subject string) *nats.Msg {
	a.t.Helper()
	for i, m := range a.held {
		if m.Subject == subject {
			a.held = append(a.held[:i], a.held[i+1:]...)
			return m
		}
	}
	for len(a.held) < 8 {
		m, err := a.sub.NextMsg(testutil.MsgWait)
		if err != nil {
			held := make([]string, len(a.held))
			for i, h := range a.held {
				held[i] = h.Subject
			}
			a.t.Fatalf("no advisory on %s: %v; held %v", subject, err, held)
		}
		if m.Subject == subject {
			return m
		}
		a.held = append(a.held, m)
	}
	a.t.Fatalf("no advisory on %s; got %d others, first on %s: %s", subject, len(a.held), a.held[0].Subject, a.held[0].Data)
	return nil
}

// poll returns the first advisory on subject that is held or comes within
// wait, or nil.
func (a *advisories) poll(subject string, wait time.Duration) *nats.Msg {
	a.t.Helper()
	for i, m := range a.held {
		if m.Subject == subject {
			a.held = append(a.held[:i], a.held[i+1:]...)
			return m
		}
	}
	deadline := time.Now().Add(wait)
	for {
		m, err := a.sub.NextMsg(time.Until(deadline))
		if err != nil {
			return nil
		}
		if m.Subject == subject {
			return m
		}
		a.held = append(a.held, m)
	}
}

// next reads the next advisory on subject and decodes it.
func (a *advisories) next(subject string) map[string]any {
	a.t.Helper()
	return a.decode(a.take(subject))
}

// decode returns an advisory's JSON without the fields that differ every
// time (id, timestamp), after checking they are there.
func (a *advisories) decode(m *nats.Msg) map[string]any {
	a.t.Helper()
	subject := m.Subject
	var v map[string]any
	if err := json.Unmarshal(m.Data, &v); err != nil {
		a.t.Fatalf("%s: %s: %v", m.Subject, m.Data, err)
	}
	if id, _ := v["id"].(string); id == "" {
		a.t.Errorf("%s: no id: %s", subject, m.Data)
	}
	if ts, _ := v["timestamp"].(string); ts == "" {
		a.t.Errorf("%s: no timestamp: %s", subject, m.Data)
	} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		a.t.Errorf("%s: timestamp %q: %v", subject, ts, err)
	}
	delete(v, "id")
	delete(v, "timestamp")
	return v
}

func (a *advisories) expect(subject string, want map[string]any) {
	a.t.Helper()
	if got := a.next(subject); !reflect.DeepEqual(got, want) {
		a.t.Errorf("%s:\n got %v\nwant %v", subject, got, want)
	}
}

// audit checks the API audit of a request from nc.
func (a *advisories) audit(nc *nats.Conn, server, apiSubject, request, responseType string, failed bool) {
	a.t.Helper()
	v := a.next("$JS.EVENT.ADVISORY.API")
	if v["type"] != "io.nats.jetstream.advisory.v1.api_audit" || v["subject"] != apiSubject || v["server"] != server {
		a.t.Errorf("audit of %s: %v", apiSubject, v)
	}
	if got, _ := v["request"].(string); got != request {
		a.t.Errorf("audit of %s: request %q, want %q", apiSubject, got, request)
	}
	var resp struct {
		Type  string          `json:"type"`
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal([]byte(v["response"].(string)), &resp); err != nil || resp.Type != responseType || (resp.Error != nil) != failed {
		a.t.Errorf("audit of %s: response %v (%v)", apiSubject, v["response"], err)
	}
	client, _ := v["client"].(map[string]any)
	id, _ := nc.GetClientID()
	for k, want := range map[string]any{"id": float64(id), "acc": "$G", "name": "advisor", "lang": "go",
		"ver": nats.Version, "server": server, "kind": "Client", "client_type": "nats", "host": "127.0.0.1"} {
		if client[k] != want {
			a.t.Errorf("audit of %s: client %s = %v, want %v", apiSubject, k, client[k], want)
		}
	}
	if _, ok := client["start"].(string); !ok {
		a.t.Errorf("audit of %s: client without start: %v", apiSubject, client)
	}
}

func TestJetStreamAdvisories(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t, nats.Name("advisor"))
		sub, _ := nc.SubscribeSync("$JS.EVENT.ADVISORY.>")
		testutil.Flush(t, nc)
		a := &advisories{t: t, sub: sub}
		server := nc.ConnectedServerName()
		api := func(subject, body string) {
			t.Helper()
			if _, err := nc.Request(subject, []byte(body), testutil.MsgWait); err != nil {
				t.Fatalf("%s: %v", subject, err)
			}
		}
		action := func(kind, stream, consumer, action string) map[string]any {
			v := map[string]any{"type": "io.nats.jetstream.advisory.v1." + kind, "stream": stream, "action": action}
			if consumer != "" {
				v["consumer"] = consumer
			}
			return v
		}

		create := `{"name":"A","subjects":["a.*"]}`
		api("$JS.API.STREAM.CREATE.A", create)
		a.expect("$JS.EVENT.ADVISORY.STREAM.CREATED.A", action("stream_action", "A", "", "create"))
		a.audit(nc, server, "$JS.API.STREAM.CREATE.A", create, "io.nats.jetstream.api.v1.stream_create_response", false)
		api("$JS.API.STREAM.CREATE.A", create) // the same again: no advisory but the audit
		a.audit(nc, server, "$JS.API.STREAM.CREATE.A", create, "io.nats.jetstream.api.v1.stream_create_response", false)

		update := `{"name":"A","subjects":["a.*"],"max_msgs":100}`
		api("$JS.API.STREAM.UPDATE.A", update)
		a.expect("$JS.EVENT.ADVISORY.STREAM.UPDATED.A", action("stream_action", "A", "", "modify"))
		a.audit(nc, server, "$JS.API.STREAM.UPDATE.A", update, "io.nats.jetstream.api.v1.stream_update_response", false)

		api("$JS.API.STREAM.INFO.NOPE", "")
		a.audit(nc, server, "$JS.API.STREAM.INFO.NOPE", "", "io.nats.jetstream.api.v1.stream_info_response", true)

		consumer := `{"stream_name":"A","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":2,"ack_wait":200000000}}`
		api("$JS.API.CONSUMER.CREATE.A.D", consumer)
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.CREATED.A.D", action("consumer_action", "A", "D", "create"))
		a.audit(nc, server, "$JS.API.CONSUMER.CREATE.A.D", consumer, "io.nats.jetstream.api.v1.consumer_create_response", false)

		for _, s := range []string{"a.1", "a.2"} {
			api(s, "m") // stored; publishes are no API requests
		}
		pull := func(body string) *nats.Msg {
			t.Helper()
			m, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.A.D", []byte(body), testutil.MsgWait)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		delivery := func(kind string, cseq, sseq, dc float64, reason string) map[string]any {
			v := map[string]any{"type": "io.nats.jetstream.advisory.v1." + kind, "stream": "A", "consumer": "D",
				"stream_seq": sseq, "deliveries": dc}
			if cseq > 0 {
				v["consumer_seq"] = cseq
			}
			if reason != "" {
				v["reason"] = reason
			}
			return v
		}
		nc.Publish(pull(`{"batch":1}`).Reply, []byte("-NAK"))
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.A.D", delivery("nak", 1, 1, 1, ""))
		nc.Publish(pull(`{"batch":1}`).Reply, []byte("+TERM no good"))
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.A.D", delivery("terminated", 2, 1, 2, "no good"))
		pull(`{"batch":1}`)                      // a.2, not acknowledged
		pull(`{"batch":1,"expires":2000000000}`) // a.2 again after the ack wait, not acknowledged
		nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.A.D", nc.NewRespInbox(), []byte(`{"batch":1,"expires":2000000000}`))
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.A.D", delivery("max_deliver", 0, 2, 2, ""))

		api("$JS.API.CONSUMER.DELETE.A.D", "")
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.DELETED.A.D", action("consumer_action", "A", "D", "delete"))
		a.audit(nc, server, "$JS.API.CONSUMER.DELETE.A.D", "", "io.nats.jetstream.api.v1.consumer_delete_response", false)

		// Deleting a stream deletes its consumers first, each advised.
		api("$JS.API.CONSUMER.CREATE.A.E", `{"stream_name":"A","config":{"durable_name":"E"}}`)
		a.next("$JS.EVENT.ADVISORY.CONSUMER.CREATED.A.E")
		a.next("$JS.EVENT.ADVISORY.API")
		api("$JS.API.STREAM.DELETE.A", "")
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.DELETED.A.E", action("consumer_action", "A", "E", "delete"))
		if p.Ref == nil {
			a.expect("$JS.EVENT.ADVISORY.STREAM.DELETED.A", action("stream_action", "A", "", "delete"))
			a.audit(nc, server, "$JS.API.STREAM.DELETE.A", "", "io.nats.jetstream.api.v1.stream_delete_response", false)
			return
		}
		// The reference server queues this advisory for the stream's own
		// sender and stops that sender right after, so now and then it is
		// never sent (seen in CI); when it comes it must read the same.
		a.audit(nc, server, "$JS.API.STREAM.DELETE.A", "", "io.nats.jetstream.api.v1.stream_delete_response", false)
		if m := a.poll("$JS.EVENT.ADVISORY.STREAM.DELETED.A", time.Second); m != nil {
			if got, want := a.decode(m), action("stream_action", "A", "", "delete"); !reflect.DeepEqual(got, want) {
				t.Errorf("stream deleted:\n got %v\nwant %v", got, want)
			}
		} else {
			t.Log("the reference server sent no stream-deleted advisory this time")
		}
	})
}

// An ephemeral consumer deleted for inactivity is advised like one deleted
// by request.
func TestAdvisoryOnInactiveConsumer(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		sub, _ := nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.>")
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.I", `{"name":"I","subjects":["i"]}`)
		mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.I.E", `{"stream_name":"I","config":{"name":"E","inactive_threshold":300000000}}`)
		a := &advisories{t: t, sub: sub}
		a.next("$JS.EVENT.ADVISORY.CONSUMER.CREATED.I.E")
		a.expect("$JS.EVENT.ADVISORY.CONSUMER.DELETED.I.E", map[string]any{
			"type": "io.nats.jetstream.advisory.v1.consumer_action", "stream": "I", "consumer": "E", "action": "delete"})
	})
}
