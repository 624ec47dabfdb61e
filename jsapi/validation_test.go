package jsapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
)

// Configuration validation, side by side with the reference server: each
// case is a create request and what midge answers. ref says what the
// reference nats-server v2.15.2 answers: "same" (the same code, error code
// and text), "accepts" (midge is stricter: the value would make the store
// misbehave or means nothing), or "differs" (both refuse, in other words).
// The reference is asked too when it is installed.

type validationCase struct {
	name    string
	subject string // after $JS.API.
	body    string
	code    int    // 0: accepted
	errCode int    //
	text    string // a part of the description
	ref     string
}

func validationCases() []validationCase {
	big := strings.Repeat("x", 4097)
	bigMeta := `{"k":"` + strings.Repeat("y", 128<<10) + `"}`
	stream := func(name, cfg string, code, errCode int, text, ref string) validationCase {
		return validationCase{"stream " + name, "STREAM.CREATE.V", `{"name":"V"` + cfg + `}`, code, errCode, text, ref}
	}
	consumer := func(name, cfg string, code, errCode int, text, ref string) validationCase {
		return validationCase{"consumer " + name, "CONSUMER.CREATE.C.D",
			`{"stream_name":"C","config":{"durable_name":"D","ack_policy":"explicit"` + cfg + `}}`, code, errCode, text, ref}
	}
	return []validationCase{
		stream("max_age negative", `,"max_age":-1`, 500, 10052, "max age can not be negative", "same"),
		stream("description too long", `,"description":"`+big+`"`, 500, 10052, "stream description is too long, maximum allowed is 4096", "same"),
		stream("metadata too large", `,"metadata":`+bigMeta, 500, 10052, "stream metadata exceeds maximum size of 131072 bytes", "same"),
		stream("replicas negative", `,"num_replicas":-1`, 400, 10133, "replicas count cannot be negative", "same"),
		stream("replicas above 5", `,"num_replicas":6`, 500, 10052, "maximum replicas is 5", "same"),
		stream("duplicates window below 100ms", `,"duplicate_window":50000000`, 500, 10052, "duplicates window needs to be >= 100ms", "same"),
		stream("unknown field", `,"foo":1`, 400, 10025, `invalid JSON: json: unknown field "foo"`, "same"),
		stream("unknown nested field", `,"consumer_limits":{"bar":1}`, 400, 10025, `invalid JSON: json: unknown field "bar"`, "same"),
		stream("unknown placement field", `,"placement":{"cluster":"x","zz":1}`, 400, 10025, `unknown field "zz"`, "same"),
		stream("retention unknown", `,"retention":"bogus"`, 400, 10025, `invalid JSON: can not unmarshal "\"bogus\""`, "same"),
		stream("storage unknown", `,"storage":"bogus"`, 400, 10025, `invalid JSON: can not unmarshal "\"bogus\""`, "same"),
		stream("compression unknown", `,"compression":"bogus"`, 400, 10025, "invalid JSON: unknown compression algorithm", "same"),
		stream("capturing everything with acks", `,"subjects":[">"]`, 500, 10052, "capturing all subjects requires no-ack to be true", "same"),
		stream("sealed on create", `,"sealed":true`, 500, 10052, "stream configuration for create can not be sealed", "same"),
		stream("first_seq that would wrap", `,"first_seq":18446744073709551615`, 500, 10052, "first sequence can not be larger", "accepts"),
		stream("negative consumer limit", `,"consumer_limits":{"inactive_threshold":-1}`, 500, 10052, "inactive threshold can not be negative", "accepts"),
		stream("fields the reference knows", `,"allow_msg_counter":false,"allow_atomic":false,"persist_mode":"","allow_batched":false`, 0, 0, "", "same"),
		{"stream name too long", "STREAM.CREATE." + strings.Repeat("n", 256), `{"name":"` + strings.Repeat("n", 256) + `"}`,
			500, 10052, "stream name is too long, maximum allowed is 255", "same"},

		consumer("ack_wait negative", `,"ack_wait":-1`, 400, 10183, "consumer ack wait needs to be positive", "same"),
		consumer("backoff negative, max_deliver -1", `,"backoff":[-1],"max_deliver":-1`, 400, 10184, "consumer backoff needs to be positive", "same"),
		consumer("backoff zero", `,"backoff":[0]`, 400, 10184, "consumer backoff needs to be positive", "accepts"),
		consumer("backoff longer than max_deliver", `,"backoff":[1000000000,2000000000,3000000000],"max_deliver":2`, 400, 10116, "max deliver is required to be > length of backoff values", "same"),
		consumer("backoff within max_deliver", `,"backoff":[1000000000,2000000000],"max_deliver":3`, 0, 0, "", "same"),
		consumer("description too long", `,"description":"`+big+`"`, 400, 10107, "consumer description is too long, maximum allowed is 4096", "same"),
		consumer("metadata too large", `,"metadata":`+bigMeta, 400, 10135, "consumer metadata exceeds maximum size of 128KB", "same"),
		consumer("max_expires below 1ms", `,"max_expires":1`, 400, 10115, "consumer max request expires needs to be >= 1ms", "same"),
		consumer("max_expires negative", `,"max_expires":-1`, 400, 10115, "consumer max request expires needs to be >= 1ms", "accepts"),
		consumer("max_batch negative", `,"max_batch":-1`, 400, 10114, "consumer max request batch needs to be > 0", "accepts"),
		consumer("max_waiting negative", `,"max_waiting":-1`, 400, 10087, "consumer max waiting needs to be positive", "accepts"),
		consumer("max_ack_pending below -1", `,"max_ack_pending":-5`, 400, 10012, "max ack pending can not be below -1", "accepts"),
		consumer("inactive_threshold negative", `,"inactive_threshold":-1`, 400, 10012, "inactive threshold can not be negative", "accepts"),
		consumer("max_bytes negative", `,"max_bytes":-1`, 400, 10012, "max request bytes can not be negative", "accepts"),
		consumer("rate limit on pull", `,"rate_limit_bps":100`, 400, 10086, "consumer in pull mode can not have rate limit set", "same"),
		consumer("heartbeat on pull", `,"idle_heartbeat":1000000000`, 400, 10088, "consumer idle heartbeat requires a push based consumer", "same"),
		consumer("flow control on pull", `,"flow_control":true`, 400, 10089, "consumer flow control requires a push based consumer", "same"),
		consumer("replicas negative", `,"num_replicas":-1`, 400, 10133, "replicas count cannot be negative", "same"),
		consumer("sample not a number", `,"sample_freq":"abc"`, 400, 10095, "failed to parse consumer sampling configuration", "same"),
		consumer("unknown field", `,"foo":1`, 400, 10025, `invalid JSON: json: unknown field "foo"`, "same"),
		consumer("start sequence with deliver all", `,"opt_start_seq":5`, 400, 10094, "consumer delivery policy is deliver all, but optional start sequence is also set", "same"),
		consumer("last per subject without filter", `,"deliver_policy":"last_per_subject"`, 400, 10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set", "same"),
		consumer("start time with start sequence", `,"deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z","opt_start_seq":3`, 400, 10094, "consumer delivery policy is deliver by start time, but optional start start sequence is also set", "same"),
		consumer("push heartbeat below 100ms", `,"deliver_subject":"dd","idle_heartbeat":50000000`, 400, 10083, "consumer idle heartbeat needs to be >= 100ms", "same"),
		consumer("push max_ack_pending without acks", `,"deliver_subject":"dd","max_ack_pending":5,"ack_policy":"none"`, 400, 10082, "consumer requires ack policy for max ack pending", "same"),
		consumer("push deliver subject with wildcards", `,"deliver_subject":"dd.*"`, 400, 10079, "consumer deliver subject has wildcards", "same"),
		consumer("replay policy unknown", `,"replay_policy":"bogus"`, 400, 10025, `invalid JSON: can not unmarshal "\"bogus\""`, "same"),
		consumer("invalid filter", `,"filter_subject":"c..x"`, 500, 10052, "invalid subject", "same"),
		{"consumer request unknown field", "CONSUMER.CREATE.C.D", `{"stream_name":"C","config":{"durable_name":"D"},"zz":1}`,
			400, 10025, `invalid JSON: json: unknown field "zz"`, "same"},
		{"consumer pull without acks on a work queue", "CONSUMER.CREATE.W.D", `{"stream_name":"W","config":{"durable_name":"D"}}`,
			400, 10084, "consumer in pull mode requires explicit ack policy on workqueue stream", "same"},
	}
}

type apiAnswer struct {
	Error *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// askValidation sends every case to the server at nc and returns the answers.
func askValidation(t *testing.T, nc *nats.Conn, cases []validationCase) []apiAnswer {
	t.Helper()
	for _, setup := range []string{
		`STREAM.CREATE.C {"name":"C","subjects":["c.>"]}`,
		`STREAM.CREATE.W {"name":"W","subjects":["w.>"],"retention":"workqueue"}`,
	} {
		subject, body, _ := strings.Cut(setup, " ")
		if _, err := nc.Request("$JS.API."+subject, []byte(body), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	answers := make([]apiAnswer, len(cases))
	for i, tc := range cases {
		msg, err := nc.Request("$JS.API."+tc.subject, []byte(tc.body), 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := json.Unmarshal(msg.Data, &answers[i]); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, msg.Data)
		}
		// Clean up whatever was created, so the next case starts afresh.
		if tc.subject == "STREAM.CREATE.V" {
			nc.Request("$JS.API.STREAM.DELETE.V", nil, 5*time.Second)
		} else if strings.HasPrefix(tc.subject, "CONSUMER.CREATE.") {
			nc.Request("$JS.API.CONSUMER.DELETE."+strings.TrimPrefix(tc.subject, "CONSUMER.CREATE."), nil, 5*time.Second)
		}
	}
	return answers
}

func describe(a apiAnswer) string {
	if a.Error == nil {
		return "accepted"
	}
	return fmt.Sprintf("%d/%d %q", a.Error.Code, a.Error.ErrCode, a.Error.Description)
}

func TestConfigValidation(t *testing.T) {
	s := testutil.StartJS(t)
	cases := validationCases()
	answers := askValidation(t, testutil.Connect(t, s), cases)
	for i, tc := range cases {
		a := answers[i]
		switch {
		case tc.code == 0 && a.Error != nil:
			t.Errorf("%s: refused %s, want accepted", tc.name, describe(a))
		case tc.code != 0 && (a.Error == nil || a.Error.Code != tc.code || a.Error.ErrCode != tc.errCode ||
			!strings.Contains(a.Error.Description, tc.text)):
			t.Errorf("%s: %s, want %d/%d %q", tc.name, describe(a), tc.code, tc.errCode, tc.text)
		}
	}
}

// TestConfigValidationMatchesReference asks the reference server the same
// questions: where the table says "same" it must answer as midge does,
// where it says "accepts" it must accept.
func TestConfigValidationMatchesReference(t *testing.T) {
	bin := testtools.GoBinary(t, "nats-server", "go install github.com/nats-io/nats-server/v2@v2.15.2")
	url := startReference(t, bin)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	cases := validationCases()
	answers := askValidation(t, nc, cases)
	for i, tc := range cases {
		a := answers[i]
		switch tc.ref {
		case "accepts":
			if a.Error != nil {
				t.Errorf("%s: the reference refuses (%s); the table says it accepts", tc.name, describe(a))
			}
		case "same":
			want := tc.code == 0 && a.Error == nil ||
				a.Error != nil && a.Error.Code == tc.code && a.Error.ErrCode == tc.errCode && strings.Contains(a.Error.Description, tc.text)
			if !want {
				t.Errorf("%s: the reference answers %s, midge %d/%d %q", tc.name, describe(a), tc.code, tc.errCode, tc.text)
			}
		}
	}
}

var referenceListen = regexp.MustCompile(`Listening for client connections on (\S+)`)

// startReference runs the reference server with JetStream on a free
// loopback port and returns its URL.
func startReference(t *testing.T, bin string) string {
	t.Helper()
	return "nats://" + startReferenceCmd(t, exec.Command(bin, "-a", "127.0.0.1", "-p", "-1", "-js", "-sd", t.TempDir()))
}

// startReferenceCmd starts a reference server command and returns the
// address it listens on for clients.
func startReferenceCmd(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := referenceListen.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case addr := <-found:
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("the reference server did not start")
		return ""
	}
}
