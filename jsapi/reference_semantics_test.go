package jsapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// API semantics that clients' own test suites check, asserted on midge and
// on the reference server alike (testutil.OnBoth): the expectations are the
// reference's answers, and its run keeps them honest.

func TestDeleteMsgOnSealedStream(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.SE", `{"name":"SE","subjects":["se"]}`)
		if _, err := nc.Request("se", []byte("x"), testutil.MsgWait); err != nil {
			t.Fatal(err)
		}
		mustAPI(t, nc, "$JS.API.STREAM.UPDATE.SE", `{"name":"SE","subjects":["se"],"sealed":true}`)
		for _, seq := range []int{1, 7} { // present or not, the seal answers first
			got := apiCall(t, nc, "$JS.API.STREAM.MSG.DELETE.SE", fmt.Sprintf(`{"seq":%d}`, seq))
			if want := apiErrorJSON(400, 10109, "invalid operation on sealed stream"); got != want {
				t.Errorf("delete seq %d on a sealed stream: %s, want %s", seq, got, want)
			}
		}
	})
}

func TestDirectGetEmptyRequest(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.D", `{"name":"D","subjects":["d"],"allow_direct":true}`)
		if _, err := nc.Request("d", []byte("x"), testutil.MsgWait); err != nil {
			t.Fatal(err)
		}
		for body, want := range map[string]string{
			`{"seq":0}`: "408 Empty Request",
			`{}`:        "408 Empty Request",
			``:          "408 Empty Request",
			`{"seq":`:   "408 Malformed Request",
			`{"seq":9}`: "404 Message Not Found",
		} {
			m, err := nc.Request("$JS.API.DIRECT.GET.D", []byte(body), testutil.MsgWait)
			if err != nil {
				t.Fatalf("%q: %v", body, err)
			}
			if got := m.Header.Get("Status") + " " + m.Header.Get("Description"); got != want {
				t.Errorf("direct get %q: %q, want %q", body, got, want)
			}
		}
	})
}

func TestConsumerReplicasOnSingleServer(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.R", `{"name":"R","subjects":["r"]}`)
		got := apiCall(t, nc, "$JS.API.CONSUMER.CREATE.R.R3", `{"stream_name":"R","config":{"name":"R3","num_replicas":3}}`)
		if want := apiErrorJSON(500, 10074, "replicas > 1 not supported in non-clustered mode"); got != want {
			t.Errorf("R3 consumer: %s, want %s", got, want)
		}
		// Checked before the stream: a missing stream gives the same answer.
		got = apiCall(t, nc, "$JS.API.CONSUMER.CREATE.NONE.R3", `{"stream_name":"NONE","config":{"name":"R3","num_replicas":3}}`)
		if want := apiErrorJSON(500, 10074, "replicas > 1 not supported in non-clustered mode"); got != want {
			t.Errorf("R3 consumer of a missing stream: %s, want %s", got, want)
		}
		mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.R.R1", `{"stream_name":"R","config":{"name":"R1","num_replicas":1}}`)
	})
}

func TestAckToAckNoneConsumerHasNoResponders(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.AN", `{"name":"AN","subjects":["an"]}`)
		for i := 0; i < 2; i++ {
			if _, err := nc.Request("an", []byte("x"), testutil.MsgWait); err != nil {
				t.Fatal(err)
			}
		}
		mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.AN.N", `{"stream_name":"AN","config":{"durable_name":"N","ack_policy":"none"}}`)
		mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.AN.E", `{"stream_name":"AN","config":{"durable_name":"E","ack_policy":"explicit"}}`)
		next := func(consumer string) *nats.Msg {
			t.Helper()
			m, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.AN."+consumer, []byte(`{"batch":1}`), testutil.MsgWait)
			if err != nil {
				t.Fatalf("next from %s: %v", consumer, err)
			}
			return m
		}
		if _, err := nc.Request(next("N").Reply, []byte("+ACK"), testutil.MsgWait); !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("ack to an AckNone consumer: %v, want no responders", err)
		}
		if m, err := nc.Request(next("E").Reply, []byte("+ACK"), testutil.MsgWait); err != nil || len(m.Data) != 0 {
			t.Errorf("ack to an explicit-ack consumer: %v %q, want an empty answer", err, m.Data)
		}
	})
}

func TestConsumerLimitsInheritedAndEnforced(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.CL", `{"name":"CL","subjects":["cl"],"consumer_limits":{"inactive_threshold":10000000000,"max_ack_pending":50}}`)
		type limits struct {
			MaxAckPending     int           `json:"max_ack_pending"`
			InactiveThreshold time.Duration `json:"inactive_threshold"`
		}
		create := func(name, cfg string) (limits, string) {
			t.Helper()
			m, err := nc.Request("$JS.API.CONSUMER.CREATE.CL."+name, []byte(`{"stream_name":"CL","config":`+cfg+`}`), testutil.MsgWait)
			if err != nil {
				t.Fatal(err)
			}
			var resp struct {
				Config limits          `json:"config"`
				Error  json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(m.Data, &resp); err != nil {
				t.Fatal(err)
			}
			return resp.Config, string(resp.Error)
		}
		for name, cfg := range map[string]string{
			"EPH": `{"name":"EPH","ack_policy":"explicit"}`,
			"DUR": `{"durable_name":"DUR","ack_policy":"explicit"}`,
			"NON": `{"name":"NON","ack_policy":"none"}`,
		} {
			got, e := create(name, cfg)
			if want := (limits{50, 10 * time.Second}); e != "" || got != want {
				t.Errorf("%s: %+v %s, want the stream's limits %+v", name, got, e, want)
			}
		}
		if got, e := create("LOW", `{"name":"LOW","ack_policy":"explicit","max_ack_pending":5,"inactive_threshold":1000000000}`); e != "" || got != (limits{5, time.Second}) {
			t.Errorf("values under the limits: %+v %s", got, e)
		}
		if _, e := create("MAP", `{"name":"MAP","ack_policy":"explicit","max_ack_pending":100}`); e != apiErrorJSON(400, 10121, "consumer max ack pending exceeds system limit of 50") {
			t.Errorf("max_ack_pending above the limit: %s", e)
		}
		if _, e := create("IT", `{"name":"IT","ack_policy":"explicit","inactive_threshold":20000000000}`); e != apiErrorJSON(400, 10153, "consumer inactive threshold exceeds system limit of 10s") {
			t.Errorf("inactive_threshold above the limit: %s", e)
		}
	})
}

func TestPedanticCreateRequests(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		for _, tc := range []struct{ subject, body, want string }{
			{"$JS.API.STREAM.CREATE.P2", `{"name":"P2","subjects":["p2"],"max_age":1000000000,"pedantic":true}`,
				apiErrorJSON(400, 10157, "pedantic mode: duplicate window cannot be bigger than max age")},
			{"$JS.API.STREAM.CREATE.P3", `{"name":"P3","subjects":["p3"],"max_msgs":-2,"pedantic":true}`,
				apiErrorJSON(400, 10157, "pedantic mode: max_msgs must be set to -1")},
			// Without pedantic the same requests are adjusted and accepted.
			{"$JS.API.STREAM.CREATE.P2", `{"name":"P2","subjects":["p2"],"max_age":1000000000}`, ""},
			{"$JS.API.STREAM.CREATE.P1", `{"name":"P1","subjects":["p1"],"pedantic":true}`, ""},
			{"$JS.API.STREAM.CREATE.PL", `{"name":"PL","subjects":["pl"],"consumer_limits":{"max_ack_pending":50}}`, ""},
			{"$JS.API.CONSUMER.CREATE.PL.A", `{"stream_name":"PL","config":{"name":"A","ack_policy":"explicit"},"pedantic":true}`,
				apiErrorJSON(400, 10157, "pedantic mode: max_ack_pending must be set if it's configured in stream limits")},
			{"$JS.API.CONSUMER.CREATE.PL.B", `{"stream_name":"PL","config":{"name":"B","ack_policy":"explicit","max_ack_pending":50,"max_waiting":-1},"pedantic":true}`,
				apiErrorJSON(400, 10157, "pedantic mode: max_waiting must not be negative")},
			{"$JS.API.CONSUMER.CREATE.PL.C", `{"stream_name":"PL","config":{"name":"C","ack_policy":"explicit","max_ack_pending":50,"backoff":[1000000000,2000000000]},"pedantic":true}`,
				apiErrorJSON(400, 10157, "pedantic mode: first backoff value has to equal batch AckWait")},
			{"$JS.API.CONSUMER.CREATE.PL.D", `{"stream_name":"PL","config":{"name":"D","ack_policy":"explicit","max_ack_pending":50},"pedantic":true}`, ""},
			{"$JS.API.CONSUMER.CREATE.PL.E", `{"stream_name":"PL","config":{"name":"E","ack_policy":"explicit"}}`, ""},
		} {
			if got := apiCall(t, nc, tc.subject, tc.body); got != tc.want {
				t.Errorf("%s %s:\n got %s\nwant %s", tc.subject, tc.body, got, tc.want)
			}
		}
	})
}

// TestPullMaxBytesCountsAckReply: a pull request's max_bytes counts the
// subject, the ack reply subject, the header and the data of each message.
func TestPullMaxBytesCountsAckReply(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.MB", `{"name":"MB","subjects":["mb"]}`)
		payload := strings.Repeat("x", 100)
		for i := 0; i < 3; i++ {
			if _, err := nc.Request("mb", []byte(payload), testutil.MsgWait); err != nil {
				t.Fatal(err)
			}
		}
		mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.MB.C", `{"stream_name":"MB","config":{"durable_name":"C","ack_policy":"explicit"}}`)
		// $JS.ACK.MB.C.1.1.1.<19-digit ns>.2 for the first of three.
		reply := len("$JS.ACK.MB.C.1.1.1.") + 19 + len(".2")
		exact := len("mb") + reply + len(payload)
		pull := func(maxBytes int) *nats.Msg {
			t.Helper()
			body := fmt.Sprintf(`{"batch":1,"no_wait":true,"max_bytes":%d}`, maxBytes)
			m, err := nc.Request("$JS.API.CONSUMER.MSG.NEXT.MB.C", []byte(body), testutil.MsgWait)
			if err != nil {
				t.Fatalf("pull max_bytes %d: %v", maxBytes, err)
			}
			return m
		}
		if m := pull(exact - 1); m.Header.Get("Status") != "409" || m.Header.Get("Description") != "Message Size Exceeds MaxBytes" {
			t.Fatalf("max_bytes one short of subject+reply+data: %v %q, want 409", m.Header, m.Data)
		}
		if m := pull(exact); string(m.Data) != payload || len(m.Reply) != reply {
			t.Fatalf("max_bytes of exactly subject+reply+data: %v %q (reply %q)", m.Header, m.Data, m.Reply)
		}
	})
}

// TestErrorTextsClientsMatch: texts clients compare with substrings.
func TestErrorTextsClientsMatch(t *testing.T) {
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		nc := p.Connect(t)
		mustAPI(t, nc, "$JS.API.STREAM.CREATE.F", `{"name":"F","subjects":["f.>"]}`)
		for _, tc := range []struct{ subject, body, want string }{
			{"$JS.API.CONSUMER.CREATE.F.A", `{"stream_name":"F","config":{"name":"A","filter_subject":"f.a","filter_subjects":["f.b"]}}`,
				apiErrorJSON(400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified")},
			{"$JS.API.CONSUMER.CREATE.F.B.f.a", `{"stream_name":"F","config":{"name":"B","filter_subjects":["f.a","f.b"]}}`,
				apiErrorJSON(400, 10137, "consumer with multiple subject filters cannot use subject based API")},
			{"$JS.API.STREAM.CREATE.DN", `{"name":"DN","subjects":["dn"],"discard_new_per_subject":true,"max_msgs_per_subject":1}`,
				apiErrorJSON(500, 10052, "discard new per subject requires discard new policy to be set")},
			{"$JS.API.STREAM.CREATE.DN", `{"name":"DN","subjects":["dn"],"discard":"new","discard_new_per_subject":true}`,
				apiErrorJSON(500, 10052, "discard new per subject requires max msgs per subject > 0")},
		} {
			if got := apiCall(t, nc, tc.subject, tc.body); got != tc.want {
				t.Errorf("%s %s:\n got %s\nwant %s", tc.subject, tc.body, got, tc.want)
			}
		}
	})
}
