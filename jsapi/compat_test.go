package jsapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

// The exact bytes JetStream clients depend on: the error objects of publish
// acknowledgements and API responses, the status header blocks sent to pull
// requesters and push subscribers, and the ack reply subject's tokens.
// Clients match on these texts and codes, so they must not drift.

// jsRaw is a raw connection subscribed to one inbox, for byte-exact checks.
func jsRaw(t *testing.T, s *server.Server, inbox string) *testutil.RawConn {
	t.Helper()
	rc := testutil.DialRaw(t, s)
	rc.Send(`CONNECT {"verbose":false,"headers":true,"no_responders":true}` + "\r\nSUB " + inbox + " 1\r\n")
	rc.RoundTrip()
	return rc
}

// apiCall sends a raw API request and returns the "error" object of the
// response exactly as the server wrote it ("" when there is none).
func apiCall(t *testing.T, nc *nats.Conn, subject, body string) string {
	t.Helper()
	m, err := nc.Request(subject, []byte(body), testutil.MsgWait)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	var resp struct {
		Error json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &resp); err != nil {
		t.Fatalf("%s: response %s: %v", subject, m.Data, err)
	}
	return string(resp.Error)
}

func apiErrorJSON(code, errCode int, description string) string {
	d, _ := json.Marshal(description)
	return fmt.Sprintf(`{"code":%d,"err_code":%d,"description":%s}`, code, errCode, d)
}

func mustAPI(t *testing.T, nc *nats.Conn, subject, body string) {
	t.Helper()
	if e := apiCall(t, nc, subject, body); e != "" {
		t.Fatalf("%s %s: %s", subject, body, e)
	}
}

func TestPublishAckBodies(t *testing.T) {
	s := testutil.StartJS(t)
	nc := testutil.Connect(t, s)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w.>"],"max_msg_size":64}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.RU", `{"name":"RU","subjects":["ru.>"],"allow_rollup_hdrs":true}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.DM", `{"name":"DM","subjects":["dm"],"discard":"new","max_msgs":1}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.DB", `{"name":"DB","subjects":["db"],"discard":"new","max_bytes":60}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.DS", `{"name":"DS","subjects":["ds.*"],"discard":"new","max_msgs_per_subject":1,"discard_new_per_subject":true}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.SE", `{"name":"SE","subjects":["se"]}`)
	mustAPI(t, nc, "$JS.API.STREAM.UPDATE.SE", `{"name":"SE","subjects":["se"],"sealed":true}`)

	pub := func(subject string, hdr map[string]string, data string) string {
		t.Helper()
		m := nats.NewMsg(subject)
		for k, v := range hdr {
			m.Header.Set(k, v)
		}
		m.Data = []byte(data)
		r, err := nc.RequestMsg(m, testutil.MsgWait)
		if err != nil {
			t.Fatalf("publish %s %v: %v", subject, hdr, err)
		}
		return string(r.Data)
	}
	errAck := func(stream string, code, errCode int, description string) string {
		return `{"stream":"` + stream + `","seq":0,"error":` + apiErrorJSON(code, errCode, description) + "}"
	}
	if got := pub("w.a", map[string]string{"Nats-Msg-Id": "id-1"}, "x"); got != `{"stream":"W","seq":1}` {
		t.Fatalf("first publish: %s", got)
	}
	for _, tc := range []struct {
		name    string
		subject string
		hdr     map[string]string
		data    string
		want    string
	}{
		{"duplicate", "w.a", map[string]string{"Nats-Msg-Id": "id-1"}, "", `{"stream":"W","seq":1,"duplicate":true}`},
		{"expected stream", "w.a", map[string]string{"Nats-Expected-Stream": "OTHER"}, "",
			errAck("W", 400, 10060, "expected stream does not match")},
		{"checks run in order", "w.a", map[string]string{"Nats-Expected-Stream": "OTHER", "Nats-Expected-Last-Sequence": "abc"}, "",
			errAck("W", 400, 10060, "expected stream does not match")},
		{"ttl disabled", "w.a", map[string]string{"Nats-TTL": "1s"}, "",
			errAck("W", 400, 10166, "per-message TTL is disabled")},
		{"malformed last sequence", "w.a", map[string]string{"Nats-Expected-Last-Sequence": "abc"}, "",
			errAck("W", 400, 10003, "bad request")},
		{"malformed subject sequence", "w.a", map[string]string{"Nats-Expected-Last-Subject-Sequence": "-1"}, "",
			errAck("W", 400, 10003, "bad request")},
		{"wrong last sequence", "w.a", map[string]string{"Nats-Expected-Last-Sequence": "7"}, "",
			errAck("W", 400, 10071, "wrong last sequence: 1")},
		{"wrong subject sequence", "w.a", map[string]string{"Nats-Expected-Last-Subject-Sequence": "5",
			"Nats-Expected-Last-Subject-Sequence-Subject": "w.none"}, "",
			errAck("W", 400, 10071, "wrong last sequence: 0")},
		{"wrong last msg id", "w.a", map[string]string{"Nats-Expected-Last-Msg-Id": "zz"}, "",
			errAck("W", 400, 10070, "wrong last msg ID: id-1")},
		{"rollup not permitted", "w.a", map[string]string{"Nats-Rollup": "sub"}, "",
			errAck("W", 500, 10111, "rollup not permitted")},
		{"too large", "w.a", nil, strings.Repeat("x", 65),
			errAck("W", 400, 10054, "message size exceeds maximum allowed")},
		{"rollup invalid", "ru.a", map[string]string{"Nats-Rollup": "bogus"}, "",
			errAck("RU", 400, 10111, "rollup value invalid: bogus")},
		{"sealed", "se", nil, "", errAck("SE", 400, 10109, "invalid operation on sealed stream")},
		{"accepted", "w.b", map[string]string{"Nats-Expected-Last-Subject-Sequence": "0"}, "", `{"stream":"W","seq":2}`},
	} {
		if got := pub(tc.subject, tc.hdr, tc.data); got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct{ stream, subject, want string }{
		{"DM", "dm", "maximum messages exceeded"},
		{"DB", "db", "maximum bytes exceeded"},
		{"DS", "ds.a", "maximum messages per subject exceeded"},
	} {
		if got := pub(tc.subject, nil, "0123456789"); !strings.HasPrefix(got, `{"stream":"`+tc.stream+`","seq":1`) {
			t.Fatalf("%s first: %s", tc.stream, got)
		}
		if got, want := pub(tc.subject, nil, "0123456789"), errAck(tc.stream, 503, 10077, tc.want); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.stream, got, want)
		}
	}
}

func TestAPIErrorBodies(t *testing.T) {
	s := testutil.StartJS(t)
	nc := testutil.Connect(t, s)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w.>"]}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.ND", `{"name":"ND","subjects":["nd"],"deny_delete":true,"deny_purge":true}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.WQ", `{"name":"WQ","subjects":["wq.>"],"retention":"workqueue","max_consumers":2}`)
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.W.C", `{"stream_name":"W","config":{"name":"C","ack_policy":"explicit"}}`)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.WU", `{"name":"WU","subjects":["wu.>"],"retention":"workqueue"}`)
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.WU.U1", `{"stream_name":"WU","config":{"name":"U1","ack_policy":"explicit"}}`)
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.WQ.Q1", `{"stream_name":"WQ","config":{"name":"Q1","ack_policy":"explicit","filter_subject":"wq.a"}}`)
	nc.Request("nd", nil, testutil.MsgWait)
	for _, tc := range []struct {
		subject, body string
		want          string
	}{
		{"$JS.API.STREAM.INFO.NOPE", ``, apiErrorJSON(404, 10059, "stream not found")},
		{"$JS.API.STREAM.CREATE.X", `{bad`, apiErrorJSON(400, 10025, "invalid JSON: invalid character 'b' looking for beginning of object key string")},
		{"$JS.API.STREAM.CREATE.X", `{"name":"Y"}`, apiErrorJSON(400, 10056, "stream name in subject does not match request")},
		{"$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["$JS.API.>"]}`,
			apiErrorJSON(500, 10052, "subjects that overlap with jetstream api require no-ack to be true")},
		{"$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["x","$JS.API.INFO","a..b"]}`,
			apiErrorJSON(500, 10052, "subjects that overlap with jetstream api require no-ack to be true")},
		{"$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["a..b","$JS.API.INFO"]}`,
			apiErrorJSON(500, 10052, `invalid subject "a..b"`)},
		{"$JS.API.STREAM.CREATE.X", `{"name":"X","retention":"bogus"}`, apiErrorJSON(400, 10025, `invalid JSON: can not unmarshal "\"bogus\""`)},
		{"$JS.API.STREAM.CREATE.X", `{"name":"X","num_replicas":3}`, apiErrorJSON(500, 10074, "replicas > 1 not supported in non-clustered mode")},
		{"$JS.API.STREAM.CREATE.X", `{"name":"X","subjects":["w.a"]}`, apiErrorJSON(400, 10065, "subjects overlap with an existing stream")},
		{"$JS.API.STREAM.CREATE.W", `{"name":"W","subjects":["w.>"],"max_msgs":5}`,
			apiErrorJSON(400, 10058, "stream name already in use with a different configuration")},
		{"$JS.API.STREAM.UPDATE.W", `{"name":"W","subjects":["w.>"],"storage":"memory"}`,
			apiErrorJSON(500, 10052, "stream configuration update can not change storage type")},
		{"$JS.API.STREAM.MSG.GET.W", `{"seq":99}`, apiErrorJSON(404, 10037, "no message found")},
		{"$JS.API.STREAM.MSG.GET.W", `{}`, apiErrorJSON(400, 10003, "bad request")},
		{"$JS.API.STREAM.MSG.DELETE.W", `{"seq":99}`, apiErrorJSON(500, 10057, "stream store EOF")},
		{"$JS.API.STREAM.MSG.DELETE.ND", `{"seq":1}`, apiErrorJSON(500, 10057, "message delete not permitted")},
		{"$JS.API.STREAM.PURGE.ND", ``, apiErrorJSON(500, 10052, "stream purge not permitted")},
		{"$JS.API.STREAM.PURGE.W", `{"seq":2,"keep":1}`, apiErrorJSON(400, 10003, "bad request: purge can not have both seq and keep")},
		{"$JS.API.STREAM.PURGE.W", `{"filter":"a..b"}`, apiErrorJSON(400, 10003, "bad request: invalid purge filter")},
		{"$JS.API.CONSUMER.INFO.W.NOPE", ``, apiErrorJSON(404, 10014, "consumer not found")},
		{"$JS.API.CONSUMER.DELETE.NOPE.C", ``, apiErrorJSON(404, 10059, "stream not found")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"OTHER","config":{}}`,
			apiErrorJSON(400, 10056, "stream name in subject does not match request")},
		{"$JS.API.CONSUMER.DURABLE.CREATE.W.D", `{"stream_name":"W","config":{}}`,
			apiErrorJSON(400, 10016, "consumer expected to be durable but no durable name set in subject")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"durable_name":"E"}}`,
			apiErrorJSON(400, 10017, "consumer name in subject does not match durable name in request")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"name":"E"}}`,
			apiErrorJSON(400, 10018, "consumer name in subject does not match name in request")},
		{"$JS.API.CONSUMER.CREATE.W.D.w.a", `{"stream_name":"W","config":{"filter_subject":"w.b"}}`,
			apiErrorJSON(400, 10131, "Consumer create request did not match filtered subject from create subject")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"deliver_policy":"bogus"}}`,
			apiErrorJSON(400, 10025, `invalid JSON: can not unmarshal "\"bogus\""`)},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"filter_subject":"w.a","filter_subjects":["w.b"]}}`,
			apiErrorJSON(400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified")},
		{"$JS.API.CONSUMER.CREATE.W.D.w.a", `{"stream_name":"W","config":{"filter_subjects":["w.a"]}}`,
			apiErrorJSON(400, 10137, "consumer with multiple subject filters cannot use subject based API")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"filter_subjects":["w.a","w..b"]}}`,
			apiErrorJSON(500, 10052, "invalid subject")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"filter_subjects":["w.*","w.a"]}}`,
			apiErrorJSON(400, 10138, "consumer subject filters cannot overlap")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"filter_subjects":[""]}}`,
			apiErrorJSON(400, 10139, "consumer filter in FilterSubjects cannot be empty")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"deliver_subject":"dd","flow_control":true}}`,
			apiErrorJSON(400, 10108, "consumer with flow control also needs heartbeats")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"deliver_subject":"dd","idle_heartbeat":1000}}`,
			apiErrorJSON(400, 10083, "consumer idle heartbeat needs to be >= 100ms")},
		{"$JS.API.CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"deliver_subject":"dd","max_waiting":3}}`,
			apiErrorJSON(400, 10080, "consumer in push mode can not set max waiting")},
		{"$JS.API.CONSUMER.CREATE.W.C", `{"stream_name":"W","config":{"name":"C","ack_policy":"none"},"action":"create"}`,
			apiErrorJSON(400, 10148, "consumer already exists")},
		{"$JS.API.CONSUMER.CREATE.W.N", `{"stream_name":"W","config":{"name":"N"},"action":"update"}`,
			apiErrorJSON(400, 10149, "consumer does not exist")},
		{"$JS.API.CONSUMER.CREATE.W.C", `{"stream_name":"W","config":{"name":"C","ack_policy":"none"}}`,
			apiErrorJSON(400, 10012, "ack policy can not be updated")},
		{"$JS.API.CONSUMER.CREATE.WQ.D", `{"stream_name":"WQ","config":{"ack_policy":"none"}}`,
			apiErrorJSON(400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream")},
		{"$JS.API.CONSUMER.CREATE.WQ.D", `{"stream_name":"WQ","config":{"ack_policy":"none","deliver_subject":"dd"}}`,
			apiErrorJSON(400, 10098, "workqueue stream requires explicit ack")},
		{"$JS.API.CONSUMER.CREATE.WQ.D", `{"stream_name":"WQ","config":{"ack_policy":"explicit","deliver_policy":"last"}}`,
			apiErrorJSON(400, 10101, "consumer must be deliver all on workqueue stream")},
		{"$JS.API.CONSUMER.CREATE.WQ.D", `{"stream_name":"WQ","config":{"ack_policy":"explicit","filter_subject":"wq.>"}}`,
			apiErrorJSON(400, 10100, "filtered consumer not unique on workqueue stream")},
		{"$JS.API.CONSUMER.CREATE.WU.U2", `{"stream_name":"WU","config":{"ack_policy":"explicit"}}`,
			apiErrorJSON(400, 10099, "multiple non-filtered consumers not allowed on workqueue stream")},
	} {
		if got := apiCall(t, nc, tc.subject, tc.body); got != tc.want {
			t.Errorf("%s %s:\n got %s\nwant %s", tc.subject, tc.body, got, tc.want)
		}
	}
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.WQ.Q2", `{"stream_name":"WQ","config":{"name":"Q2","ack_policy":"explicit","filter_subject":"wq.b"}}`)
	if got, want := apiCall(t, nc, "$JS.API.CONSUMER.CREATE.WQ.Q3", `{"stream_name":"WQ","config":{"name":"Q3","ack_policy":"explicit","filter_subject":"wq.c"}}`),
		apiErrorJSON(400, 10026, "maximum consumers limit reached"); got != want {
		t.Errorf("max consumers:\n got %s\nwant %s", got, want)
	}
}

// Pull requests refused or ended get status header blocks, byte for byte.
func TestPullStatusBytes(t *testing.T) {
	s := testutil.StartJS(t)
	nc := testutil.Connect(t, s)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.P", `{"name":"P","subjects":["p"]}`)
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.P.C", `{"stream_name":"P","config":{"name":"C","durable_name":"C","ack_policy":"explicit",`+
		`"max_batch":5,"max_expires":10000000000,"max_bytes":100,"max_waiting":1}}`)
	rc := jsRaw(t, s, "in")
	pull := func(body string) {
		rc.Send(fmt.Sprintf("PUB $JS.API.CONSUMER.MSG.NEXT.P.C in %d\r\n%s\r\n", len(body), body))
	}
	expect := func(what, want string) {
		t.Helper()
		if m := rc.ReadMsg(); m.Header != want || m.Data != "" || m.Subject != "in" {
			t.Fatalf("%s: got %q %q on %s, want %q", what, m.Header, m.Data, m.Subject, want)
		}
	}
	pull(`{"batch":10}`)
	expect("max batch", "NATS/1.0 409 Exceeded MaxRequestBatch of 5\r\n\r\n")
	pull(`{"batch":1,"expires":20000000000}`)
	expect("max expires", "NATS/1.0 409 Exceeded MaxRequestExpires of 10s\r\n\r\n")
	pull(`{"batch":1,"max_bytes":1000}`)
	expect("max bytes", "NATS/1.0 409 Exceeded MaxRequestMaxBytes of 100\r\n\r\n")
	pull(`{bad`)
	expect("bad json", "NATS/1.0 400 Bad Request\r\n\r\n")
	pull(`x1`)
	expect("bad legacy batch", "NATS/1.0 400 Bad Request\r\n\r\n")
	pull(`{"batch":1,"expires":500000000,"idle_heartbeat":300000000}`)
	expect("heartbeat too large", "NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n")
	pull(`{"batch":1,"no_wait":true}`)
	expect("no wait", "NATS/1.0 404 No Messages\r\n\r\n")
	pull(`{"batch":3,"expires":100000000}`)
	expect("expired", "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 0\r\n\r\n")

	nc.Request("p", []byte("0123456789"), testutil.MsgWait)
	// A delivery counts subject, ack reply and data against max_bytes:
	// 1 + len("$JS.ACK.P.C.1.1.1.<19-digit ns>.0") + 10 = 50 of 60.
	pull(`{"batch":2,"max_bytes":60,"expires":900000000}`)
	if m := rc.ReadMsg(); m.Data != "0123456789" || !strings.HasPrefix(m.Reply, "$JS.ACK.P.C.1.1.1.") {
		t.Fatalf("delivery: %+v", m)
	}
	expect("over max bytes", "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 10\r\n\r\n")
	nc.Request("p", []byte("0123456789"), testutil.MsgWait)
	pull(`{"batch":1,"max_bytes":5}`)
	expect("message larger than max bytes", "NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 5\r\n\r\n")

	pull(`{"batch":1,"expires":5000000000,"idle_heartbeat":100000000}`)
	m := rc.ReadMsg() // the waiting message
	if m.Data != "0123456789" {
		t.Fatalf("second message: %+v", m)
	}
	pull(`{"batch":1,"expires":5000000000,"idle_heartbeat":100000000}`)
	heartbeat := "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 2\r\nNats-Last-Stream: 2\r\n\r\n"
	expect("heartbeat", heartbeat)
	pull(`{"batch":1}`)
	for m = rc.ReadMsg(); m.Header == heartbeat; m = rc.ReadMsg() {
	}
	if m.Header != "NATS/1.0 409 Exceeded MaxWaiting\r\n\r\n" {
		t.Fatalf("max waiting: %q", m.Header)
	}
	mustAPI(t, nc, "$JS.API.CONSUMER.DELETE.P.C", ``)
	for {
		m := rc.ReadMsg()
		if strings.HasPrefix(m.Header, "NATS/1.0 100 Idle Heartbeat\r\n") {
			continue
		}
		if m.Header != "NATS/1.0 409 Consumer Deleted\r\n\r\n" {
			t.Fatalf("after delete: %q", m.Header)
		}
		break
	}
}

// A delivery's reply subject is
// $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<stored ns>.<pending>;
// an ack that asks for an answer gets an empty message; +NXT on a push
// consumer is refused with a status (an ack to an AckNone consumer reaches
// nobody: see TestAckToAckNoneConsumerHasNoResponders).
func TestAckSubjectAndAnswers(t *testing.T) {
	s := testutil.StartJS(t)
	nc := testutil.Connect(t, s)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.A", `{"name":"A","subjects":["a.*"]}`)
	for _, subject := range []string{"a.x", "a.y", "a.x"} {
		nc.Request(subject, []byte("m"), testutil.MsgWait)
	}
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.A.C", `{"stream_name":"A","config":{"name":"C","durable_name":"C","ack_policy":"explicit","filter_subject":"a.x"}}`)
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.A.H", `{"stream_name":"A","config":{"name":"H","durable_name":"H","ack_policy":"explicit","deliver_subject":"hd","headers_only":true}}`)
	rc := jsRaw(t, s, "in")
	rc.Send("SUB hd 2\r\nSUB done 3\r\n")
	got := map[string]testutil.RawMsg{}
	for i := 0; i < 3; i++ { // the headers-only deliveries, in any order relative to the subscription
		m := rc.ReadMsg()
		got[m.Reply] = m
	}
	var hm testutil.RawMsg
	for _, m := range got {
		if strings.HasPrefix(m.Reply, "$JS.ACK.A.H.1.1.1.") {
			hm = m
		}
	}
	if hm.Header != "NATS/1.0\r\nNats-Msg-Size: 1\r\n\r\n" || hm.Data != "" || hm.Subject != "a.x" {
		t.Fatalf("headers only: %+v", hm)
	}
	rc.Send("PUB $JS.API.CONSUMER.MSG.NEXT.A.C in 1\r\n2\r\n")
	first, second := rc.ReadMsg(), rc.ReadMsg()
	stored, err := nc.Request("$JS.API.STREAM.MSG.GET.A", []byte(`{"seq":1}`), testutil.MsgWait)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Message struct {
			Time time.Time `json:"time"`
		} `json:"message"`
	}
	json.Unmarshal(stored.Data, &resp)
	want := fmt.Sprintf("$JS.ACK.A.C.1.1.1.%d.1", resp.Message.Time.UnixNano())
	if first.Reply != want || first.Subject != "a.x" {
		t.Fatalf("first reply %q, want %q", first.Reply, want)
	}
	if !strings.HasPrefix(second.Reply, "$JS.ACK.A.C.1.3.2.") || !strings.HasSuffix(second.Reply, ".0") {
		t.Fatalf("second reply %q", second.Reply)
	}
	rc.Send(fmt.Sprintf("PUB %s done 4\r\n+ACK\r\n", first.Reply))
	if m := rc.ReadMsg(); m.Subject != "done" || m.Data != "" || m.Header != "" {
		t.Fatalf("ack answer: %+v", m)
	}
	rc.Send(fmt.Sprintf("PUB %s done 4\r\n-NAK\r\n", second.Reply))
	if m := rc.ReadMsg(); m.Subject != "done" {
		t.Fatalf("nak answer: %+v", m)
	}
	rc.Send("PUB $JS.API.CONSUMER.MSG.NEXT.A.C in 0\r\n\r\n")
	if m := rc.ReadMsg(); !strings.HasPrefix(m.Reply, "$JS.ACK.A.C.2.3.3.") {
		t.Fatalf("redelivery after nak: %+v", m)
	}
	body := `+NXT {"batch":1}`
	rc.Send(fmt.Sprintf("PUB %s in %d\r\n%s\r\n", hm.Reply, len(body), body))
	if m := rc.ReadMsg(); m.Subject != "in" || m.Header != "NATS/1.0 409 Consumer is push based\r\n\r\n" {
		t.Fatalf("+NXT on a push consumer: %+v", m)
	}
}

// Flow control requests and the heartbeats of a stalled push consumer.
func TestFlowControlBytes(t *testing.T) {
	s := testutil.StartJS(t)
	nc := testutil.Connect(t, s)
	mustAPI(t, nc, "$JS.API.STREAM.CREATE.FC", `{"name":"FC","subjects":["fc"]}`)
	payload := make([]byte, 200<<10)
	for i := 0; i < 4; i++ {
		if _, err := nc.Request("fc", payload, testutil.MsgWait); err != nil {
			t.Fatal(err)
		}
	}
	rc := jsRaw(t, s, "dl")
	mustAPI(t, nc, "$JS.API.CONSUMER.CREATE.FC.F", `{"stream_name":"FC","config":{"name":"F","durable_name":"F","ack_policy":"none",`+
		`"deliver_subject":"dl","flow_control":true,"idle_heartbeat":100000000}}`)
	var requests []testutil.RawMsg
	delivered := 0
	for len(requests) < 2 {
		m := rc.ReadMsg()
		switch {
		case m.Header == "NATS/1.0 100 FlowControl Request\r\n\r\n":
			requests = append(requests, m)
		case len(m.Data) == len(payload):
			delivered++
		default:
			t.Fatalf("unexpected %q %d bytes", m.Header, len(m.Data))
		}
	}
	if requests[0].Reply != "$JS.FC.FC.F.1" || requests[1].Reply != "$JS.FC.FC.F.2" || delivered != 4 {
		t.Fatalf("requests %q %q after %d messages", requests[0].Reply, requests[1].Reply, delivered)
	}
	m := rc.ReadMsg()
	want := "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 4\r\nNats-Last-Stream: 4\r\nNats-Consumer-Stalled: $JS.FC.FC.F.1\r\n\r\n"
	if m.Header != want || m.Subject != "dl" {
		t.Fatalf("stalled heartbeat %q", m.Header)
	}
	rc.Send("PUB $JS.FC.FC.F.2 0\r\n\r\n")
	for {
		m := rc.ReadMsg()
		if m.Header == "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 4\r\nNats-Last-Stream: 4\r\n\r\n" {
			break // answered: no longer stalled
		}
		if !strings.Contains(m.Header, "Nats-Consumer-Stalled") {
			t.Fatalf("unexpected after answering: %q", m.Header)
		}
	}
}
