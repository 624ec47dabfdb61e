package jsapi_test

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// The JetStream features of nats-server 2.14 that midge implements, each run
// as one scenario against midge and against the reference server. A
// scenario writes what a client observes (API answers, acknowledgements,
// stored messages, headers) into a transcript, leaving out what differs by
// nature (timestamps, server ids, random pin ids); the two transcripts must
// be equal line by line. Nothing here states the expected answers: the
// reference's run is the expectation.

// transcript is what one scenario observed, one line per observation.
type transcript struct {
	t     *testing.T
	nc    *nats.Conn
	lines []string
}

func (x *transcript) add(format string, args ...any) {
	x.lines = append(x.lines, fmt.Sprintf(format, args...))
}

// api sends a request and records the named top-level or dotted fields of
// the JSON answer (an error object is always recorded).
func (x *transcript) api(subject, body string, fields ...string) map[string]any {
	x.t.Helper()
	m, err := x.nc.Request(subject, []byte(body), testutil.MsgWait)
	if err != nil {
		x.t.Fatalf("%s: %v", subject, err)
	}
	return x.recordJSON(subject, m.Data, fields...)
}

func (x *transcript) recordJSON(what string, data []byte, fields ...string) map[string]any {
	x.t.Helper()
	var resp map[string]any
	if err := json.Unmarshal(data, &resp); err != nil {
		x.t.Fatalf("%s: answer %q: %v", what, data, err)
	}
	if e, ok := resp["error"].(map[string]any); ok {
		x.add("%s: error %v %v %v", what, e["code"], e["err_code"], e["description"])
		return resp
	}
	for _, f := range fields {
		x.add("%s: %s=%v", what, f, lookup(resp, f))
	}
	return resp
}

// publish sends a message with headers (name, value pairs) as a request
// and records the acknowledgement's named fields.
func (x *transcript) publish(subject, data string, fields []string, headers ...string) {
	x.t.Helper()
	m := nats.NewMsg(subject)
	m.Data = []byte(data)
	for i := 0; i+1 < len(headers); i += 2 {
		m.Header.Set(headers[i], headers[i+1])
	}
	reply, err := x.nc.RequestMsg(m, testutil.MsgWait)
	if err != nil {
		x.t.Fatalf("publish %s: %v", subject, err)
	}
	x.recordJSON("pub "+subject, reply.Data, fields...)
}

// message records a delivered message: subject (unless it is a random
// inbox), data and the named headers.
func (x *transcript) message(what string, m *nats.Msg, headers ...string) {
	subject := m.Subject
	if strings.HasPrefix(subject, "_INBOX.") {
		subject = "_INBOX"
	}
	line := fmt.Sprintf("%s: %s %q", what, subject, m.Data)
	for _, h := range headers {
		line += fmt.Sprintf(" %s=%q", h, m.Header.Get(h))
	}
	x.add("%s", line)
}

// storedMsg is a message as the get API returns it.
type storedMsg struct {
	Subject string `json:"subject"`
	Data    []byte `json:"data"`
	Hdrs    []byte `json:"hdrs"`
}

// get asks the get API (which every stream answers) for the message at seq;
// apiErr is the API's error object, if it gave one.
func (x *transcript) get(stream string, seq int) (m storedMsg, hdr nats.Header, apiErr map[string]any) {
	x.t.Helper()
	reply, err := x.nc.Request("$JS.API.STREAM.MSG.GET."+stream, []byte(fmt.Sprintf(`{"seq":%d}`, seq)), testutil.MsgWait)
	if err != nil {
		x.t.Fatalf("get %s %d: %v", stream, seq, err)
	}
	var resp struct {
		Error   map[string]any `json:"error"`
		Message storedMsg      `json:"message"`
	}
	if err := json.Unmarshal(reply.Data, &resp); err != nil {
		x.t.Fatalf("get %s %d: %q: %v", stream, seq, reply.Data, err)
	}
	return resp.Message, parseHeaderBlock(resp.Message.Hdrs), resp.Error
}

// stored records the message stored at seq: subject, data and the named
// headers.
func (x *transcript) stored(stream string, seq int, headers ...string) {
	x.t.Helper()
	m, hdr, apiErr := x.get(stream, seq)
	what := fmt.Sprintf("%s[%d]", stream, seq)
	if apiErr != nil {
		x.add("%s: error %v %v %v", what, apiErr["code"], apiErr["err_code"], apiErr["description"])
		return
	}
	line := fmt.Sprintf("%s: %s %q", what, m.Subject, m.Data)
	for _, h := range headers {
		line += fmt.Sprintf(" %s=%q", h, hdr.Get(h))
	}
	x.add("%s", line)
}

// parseHeaderBlock reads a NATS/1.0 header block.
func parseHeaderBlock(b []byte) nats.Header {
	h := nats.Header{}
	lines := strings.Split(string(b), "\r\n")
	for _, l := range lines[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	return h
}

// waitState polls stream info until its last sequence reaches last.
func (x *transcript) waitState(stream string, last int) {
	x.t.Helper()
	x.waitInfo(stream, fmt.Sprintf("reach sequence %d", last), func(lastSeq, _ int) bool { return lastSeq >= last })
}

// waitGone polls until the stream holds want messages (TTL expiry).
func (x *transcript) waitGone(stream string, want int) {
	x.t.Helper()
	x.waitInfo(stream, fmt.Sprintf("come down to %d messages", want), func(_, msgs int) bool { return msgs == want })
}

// waitInfo polls stream info until done says its state is reached.
func (x *transcript) waitInfo(stream, what string, done func(lastSeq, msgs int) bool) {
	x.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := x.nc.Request("$JS.API.STREAM.INFO."+stream, nil, testutil.MsgWait)
		if err == nil {
			var info struct {
				State struct {
					LastSeq int `json:"last_seq"`
					Msgs    int `json:"messages"`
				} `json:"state"`
			}
			if json.Unmarshal(m.Data, &info) == nil && done(info.State.LastSeq, info.State.Msgs) {
				return
			}
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("stream %s did not %s", stream, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lookup(v any, path string) any {
	for _, key := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[key]
	}
	return v
}

// sameOnBoth runs the scenario on midge and on the reference server and
// compares the transcripts.
func sameOnBoth(t *testing.T, scenario func(x *transcript)) {
	t.Helper()
	got := map[string][]string{}
	testutil.OnBoth(t, true, func(t *testing.T, p *testutil.Peer) {
		x := &transcript{t: t, nc: p.Connect(t)}
		scenario(x)
		if len(x.lines) == 0 {
			t.Fatal("the scenario observed nothing")
		}
		got[p.Name] = x.lines
		t.Logf("observed:\n  %s", strings.Join(x.lines, "\n  "))
	})
	mine, ref := got["midge"], got["reference"]
	if ref == nil {
		return // the reference was not run (see OnBoth)
	}
	for i := 0; i < len(mine) || i < len(ref); i++ {
		var a, b string
		if i < len(mine) {
			a = mine[i]
		}
		if i < len(ref) {
			b = ref[i]
		}
		if a != b {
			t.Errorf("observation %d differs:\n  midge:     %s\n  reference: %s", i+1, a, b)
		}
	}
}

var state = []string{"state.messages", "state.first_seq", "state.last_seq"}

func TestMirrorAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.O", `{"name":"O","subjects":["o.>"]}`, "config.name")
		for i, s := range []string{"o.a", "o.b", "o.a", "o.c"} {
			x.publish(s, fmt.Sprint("m", i+1), []string{"seq"})
		}
		x.api("$JS.API.STREAM.CREATE.M", `{"name":"M","mirror":{"name":"O"}}`, "config.mirror.name")
		x.waitState("M", 4)
		x.publish("o.d", "m5", []string{"seq"})
		x.waitState("M", 5)
		for seq := 1; seq <= 5; seq++ {
			x.stored("M", seq)
		}
		x.api("$JS.API.STREAM.INFO.M", "", state...)
		x.api("$JS.API.STREAM.CREATE.M2", `{"name":"M2","subjects":["m2"],"mirror":{"name":"O"}}`)
		x.api("$JS.API.STREAM.CREATE.F", `{"name":"F","mirror":{"name":"O","filter_subject":"o.a"}}`, "config.mirror.filter_subject")
		x.waitState("F", 3)
		x.api("$JS.API.STREAM.INFO.F", "", state...)
		x.stored("F", 1)
		x.stored("F", 3)
	})
}

func TestSourcesAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.S1", `{"name":"S1","subjects":["s1.>"]}`)
		x.api("$JS.API.STREAM.CREATE.S2", `{"name":"S2","subjects":["s2.>"]}`)
		x.publish("s1.a", "1a", []string{"seq"})
		x.publish("s1.b", "1b", []string{"seq"})
		x.publish("s2.x", "2x", []string{"seq"})
		x.publish("s2.y", "2y", []string{"seq"})
		x.api("$JS.API.STREAM.CREATE.AGG", `{"name":"AGG","sources":[`+
			`{"name":"S1","subject_transforms":[{"src":"s1.>","dest":"agg.one.>"}]},`+
			`{"name":"S2","filter_subject":"s2.x"}]}`, "config.name")
		x.waitState("AGG", 3)
		x.api("$JS.API.STREAM.INFO.AGG", "", state...)
		// Sources interleave in no fixed order; within a source the order
		// holds. Record each message with its source stream, sorted.
		var seen []string
		for seq := 1; seq <= 3; seq++ {
			m, hdr, _ := x.get("AGG", seq)
			source := hdr.Get("Nats-Stream-Source")
			src := strings.Fields(source)
			if len(src) < 2 {
				x.t.Fatalf("AGG[%d] has Nats-Stream-Source %q", seq, source)
			}
			seen = append(seen, fmt.Sprintf("%s %q from %s seq %s", m.Subject, m.Data, src[0], src[1]))
		}
		sort.Strings(seen)
		for _, s := range seen {
			x.add("AGG: %s", s)
		}
	})
}

func TestSubjectTransformAndRepublishAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.T", `{"name":"T","subjects":["t.*"],`+
			`"subject_transform":{"src":"t.*","dest":"tt.{{wildcard(1)}}"}}`, "config.subject_transform.dest")
		x.publish("t.x", "one", []string{"seq"})
		x.stored("T", 1)

		sub, err := x.nc.SubscribeSync("out.>")
		if err != nil {
			x.t.Fatal(err)
		}
		x.api("$JS.API.STREAM.CREATE.RP", `{"name":"RP","subjects":["rp.>"],"republish":{"src":"rp.>","dest":"out.>"}}`, "config.republish.dest")
		x.api("$JS.API.STREAM.CREATE.RH", `{"name":"RH","subjects":["rh.>"],"republish":{"src":"rh.>","dest":"out.h.>","headers_only":true}}`, "config.republish.headers_only")
		x.publish("rp.a", "hello", []string{"seq"})
		x.publish("rp.a", "again", []string{"seq"})
		x.publish("rh.b", "twelve bytes", []string{"seq"})
		for i := 0; i < 3; i++ {
			m, err := sub.NextMsg(testutil.MsgWait)
			if err != nil {
				x.t.Fatal(err)
			}
			x.message("republished", m, "Nats-Stream", "Nats-Sequence", "Nats-Subject", "Nats-Last-Sequence", "Nats-Msg-Size")
		}
	})
}

func TestMsgTTLAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.NT", `{"name":"NT","subjects":["nt"]}`)
		x.publish("nt", "x", []string{"seq"}, "Nats-TTL", "1s")
		x.api("$JS.API.STREAM.CREATE.TT", `{"name":"TT","subjects":["tt.>"],"allow_msg_ttl":true}`, "config.allow_msg_ttl")
		x.publish("tt.bad", "x", []string{"seq"}, "Nats-TTL", "soon")
		x.publish("tt.keep", "kept", []string{"seq"})
		x.publish("tt.short", "gone", []string{"seq"}, "Nats-TTL", "1s")
		x.publish("tt.never", "stays", []string{"seq"}, "Nats-TTL", "never")
		x.waitGone("TT", 2)
		x.api("$JS.API.STREAM.INFO.TT", "", "state.messages", "state.first_seq", "state.last_seq", "state.num_deleted")
		x.stored("TT", 1)
		x.stored("TT", 3, "Nats-TTL")
	})
}

func TestSubjectDeleteMarkersAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.DM", `{"name":"DM","subjects":["dm.>"],"allow_msg_ttl":true,`+
			`"max_age":1000000000,"subject_delete_marker_ttl":1000000000}`, "config.subject_delete_marker_ttl")
		x.publish("dm.a", "a", []string{"seq"})
		x.waitState("DM", 2) // the marker comes as the next sequence
		x.stored("DM", 2, "Nats-Marker-Reason", "Nats-TTL")
	})
}

func TestCountersAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.C", `{"name":"C","subjects":["c.>"],"allow_msg_counter":true}`, "config.allow_msg_counter")
		x.publish("c.hits", "", []string{"seq", "val"}, "Nats-Incr", "+5")
		x.publish("c.hits", "", []string{"seq", "val"}, "Nats-Incr", "-2")
		x.publish("c.hits", "", []string{"seq", "val"}, "Nats-Incr", "100000000000000000000000")
		x.publish("c.hits", "", []string{"seq", "val"}, "Nats-Incr", "x")
		x.publish("c.hits", "plain", []string{"seq", "val"})
		x.stored("C", 3)
	})
}

func TestAtomicBatchAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.NB", `{"name":"NB","subjects":["nb"]}`)
		x.publish("nb", "x", []string{"seq"}, "Nats-Batch-Id", "b0", "Nats-Batch-Sequence", "1", "Nats-Batch-Commit", "1")
		x.api("$JS.API.STREAM.CREATE.B", `{"name":"B","subjects":["b.>"],"allow_atomic":true}`, "config.allow_atomic")
		for i := 1; i <= 2; i++ {
			m := nats.NewMsg(fmt.Sprint("b.", i))
			m.Data = []byte(fmt.Sprint("part", i))
			m.Header.Set("Nats-Batch-Id", "b1")
			m.Header.Set("Nats-Batch-Sequence", fmt.Sprint(i))
			if err := x.nc.PublishMsg(m); err != nil {
				x.t.Fatal(err)
			}
		}
		x.publish("b.3", "part3", []string{"seq", "batch", "count"}, "Nats-Batch-Id", "b1", "Nats-Batch-Sequence", "3", "Nats-Batch-Commit", "1")
		x.api("$JS.API.STREAM.INFO.B", "", state...)
		x.stored("B", 2)
		// A gap in the batch sequence: nothing of the batch is stored.
		m := nats.NewMsg("b.4")
		m.Header.Set("Nats-Batch-Id", "b2")
		m.Header.Set("Nats-Batch-Sequence", "1")
		if err := x.nc.PublishMsg(m); err != nil {
			x.t.Fatal(err)
		}
		x.publish("b.5", "x", []string{"seq"}, "Nats-Batch-Id", "b2", "Nats-Batch-Sequence", "3", "Nats-Batch-Commit", "1")
		x.api("$JS.API.STREAM.INFO.B", "", state...)
	})
}

func TestConsumerPauseAndFiltersAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.P", `{"name":"P","subjects":["p.>"],"metadata":{"team":"blue"}}`, "config.metadata.team")
		for _, s := range []string{"p.a", "p.b", "p.c", "p.a"} {
			x.publish(s, s, []string{"seq"})
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
		x.api("$JS.API.CONSUMER.CREATE.P.W", `{"stream_name":"P","config":{"name":"W","ack_policy":"explicit",`+
			`"filter_subjects":["p.a","p.c"],"pause_until":"`+future+`","metadata":{"owner":"x"}}}`,
			"paused", "config.filter_subjects", "config.metadata.owner", "num_pending")
		x.api("$JS.API.CONSUMER.PAUSE.P.W", `{}`, "paused")
		x.api("$JS.API.CONSUMER.INFO.P.W", "", "paused", "num_pending")
		inbox := nats.NewInbox()
		sub, err := x.nc.SubscribeSync(inbox)
		if err != nil {
			x.t.Fatal(err)
		}
		if err := x.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.P.W", inbox, []byte(`{"batch":3,"expires":2000000000}`)); err != nil {
			x.t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			m, err := sub.NextMsg(testutil.MsgWait)
			if err != nil {
				x.t.Fatal(err)
			}
			x.message("pulled", m)
		}
	})
}

func TestPinnedClientAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.PC", `{"name":"PC","subjects":["pc"]}`)
		for i := 1; i <= 3; i++ {
			x.publish("pc", fmt.Sprint("m", i), []string{"seq"})
		}
		x.api("$JS.API.CONSUMER.CREATE.PC.G", `{"stream_name":"PC","config":{"name":"G","ack_policy":"explicit",`+
			`"priority_groups":["g"],"priority_policy":"pinned_client","priority_timeout":60000000000}}`,
			"config.priority_policy", "config.priority_groups")
		pull := func(body string) *nats.Msg {
			inbox := nats.NewInbox()
			sub, err := x.nc.SubscribeSync(inbox)
			if err != nil {
				x.t.Fatal(err)
			}
			defer sub.Unsubscribe()
			if err := x.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT.PC.G", inbox, []byte(body)); err != nil {
				x.t.Fatal(err)
			}
			m, err := sub.NextMsg(testutil.MsgWait)
			if err != nil {
				x.t.Fatal(err)
			}
			return m
		}
		first := pull(`{"batch":1,"group":"g","expires":1000000000}`)
		pin := first.Header.Get("Nats-Pin-Id")
		x.add("first pull: %q pinned=%v", first.Data, pin != "")
		other := pull(`{"batch":1,"group":"g","id":"someone-else","expires":1000000000}`)
		x.message("wrong pin", other, "Status", "Description")
		again := pull(`{"batch":1,"group":"g","id":"` + pin + `","expires":1000000000}`)
		x.add("pinned pull: %q same pin=%v", again.Data, again.Header.Get("Nats-Pin-Id") == pin)
		x.api("$JS.API.CONSUMER.UNPIN.PC.G", `{"group":"g"}`)
		x.api("$JS.API.CONSUMER.UNPIN.PC.G", `{"group":"nope"}`)
	})
}

func TestCompressionAsReference(t *testing.T) {
	sameOnBoth(t, func(x *transcript) {
		x.api("$JS.API.STREAM.CREATE.Z", `{"name":"Z","subjects":["z"],"compression":"s2"}`, "config.compression")
		x.api("$JS.API.STREAM.CREATE.Z2", `{"name":"Z2","subjects":["z2"],"compression":"zip"}`)
		x.publish("z", strings.Repeat("compressible ", 100), []string{"seq"})
		x.api("$JS.API.STREAM.INFO.Z", "", state...)
	})
}

// importsConfig: A exports a service and a stream; B imports both under
// other names (the reference format's `to` remapping); C imports nothing.
const importsConfig = `
listen: 127.0.0.1:-1
accounts {
  A {
    users: [ {user: a, password: a} ]
    exports: [ { service: "svc.>" }, { stream: "events.>" } ]
  }
  B {
    users: [ {user: b, password: b} ]
    imports: [
      { service: { account: A, subject: "svc.>" }, to: "a.svc.>" }
      { stream: { account: A, subject: "events.>" }, to: "from.a.events.>" }
    ]
  }
  C { users: [ {user: c, password: c} ] }
}
`

// importsScenario: a requester in B reaches A's responder through the
// remapped service; a subscriber in B gets A's events under the remapped
// subject; C reaches neither.
func importsScenario(t *testing.T, url string) []string {
	t.Helper()
	connect := func(user string) *nats.Conn {
		nc, err := nats.Connect(url, nats.UserInfo(user, user), nats.MaxReconnects(0))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	a, b, c := connect("a"), connect("b"), connect("c")
	x := &transcript{t: t, nc: b}
	if _, err := a.Subscribe("svc.>", func(m *nats.Msg) { m.Respond([]byte("A answers " + m.Subject)) }); err != nil {
		t.Fatal(err)
	}
	bEvents, err := b.SubscribeSync("from.a.>")
	if err != nil {
		t.Fatal(err)
	}
	cEvents, err := c.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, a)
	testutil.Flush(t, b)
	testutil.Flush(t, c)
	if m, err := b.Request("a.svc.time", []byte("?"), testutil.MsgWait); err != nil {
		x.add("B request a.svc.time: %v", err)
	} else {
		x.message("B request a.svc.time", m)
	}
	if _, err := c.Request("svc.time", []byte("?"), 200*time.Millisecond); err != nil {
		x.add("C request svc.time: %v", err)
	}
	if err := a.Publish("events.login", []byte("alice")); err != nil {
		t.Fatal(err)
	}
	testutil.Flush(t, a)
	if m, err := bEvents.NextMsg(testutil.MsgWait); err != nil {
		x.add("B event: %v", err)
	} else {
		x.message("B event", m)
	}
	// C's wildcard saw only its own account's traffic: the request it made.
	for {
		m, err := cEvents.NextMsg(100 * time.Millisecond)
		if err != nil {
			break
		}
		x.message("C saw", m)
	}
	return x.lines
}

func TestImportsExportsAsReference(t *testing.T) {
	got := importsScenario(t, startFromConfig(t, importsConfig))
	if len(got) < 3 {
		t.Fatalf("the scenario observed too little: %q", got)
	}
	t.Logf("midge:\n  %s", strings.Join(got, "\n  "))
	ref := importsScenario(t, startReferenceFromConfig(t, importsConfig))
	if strings.Join(got, "\n") != strings.Join(ref, "\n") {
		t.Fatalf("midge:\n  %s\nreference:\n  %s", strings.Join(got, "\n  "), strings.Join(ref, "\n  "))
	}
}
