package jsapi

import (
	"strings"
	"testing"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
)

// FuzzJetStreamAPI sends arbitrary request subjects and bodies to the
// JetStream API of an account with a real store: every request must be
// answered or ignored without a panic.
func FuzzJetStreamAPI(f *testing.F) {
	seeds := []struct{ subject, body string }{
		{"STREAM.CREATE.S", `{"name":"S","subjects":["s.>"]}`},
		{"STREAM.UPDATE.S", `{"name":"S","subjects":["s.>"],"max_msgs":-7}`},
		{"STREAM.INFO.S", `{"subjects_filter":">","offset":-3}`},
		{"STREAM.PURGE.S", `{"filter":"s.*","keep":1,"seq":5}`},
		{"STREAM.MSG.GET.S", `{"last_by_subj":"s.>"}`},
		{"STREAM.MSG.DELETE.S", `{"seq":18446744073709551615}`},
		{"STREAM.NAMES", `{"offset":99999999999}`},
		{"CONSUMER.CREATE.S.C.s.x", `{"stream_name":"S","config":{"filter_subject":"s.x","ack_policy":"explicit"}}`},
		{"CONSUMER.CREATE.S", `{"stream_name":"S","config":{"deliver_policy":"by_start_time"}}`},
		{"CONSUMER.DURABLE.CREATE.S.D", `{"stream_name":"S","config":{"durable_name":"D","backoff":[1,2,3]}}`},
		{"CONSUMER.LIST.S", ``},
		{"DIRECT.GET.S.s.>", ``},
		{"INFO", `{`},
	}
	for _, s := range seeds {
		f.Add(s.subject, []byte(s.body))
	}
	b, err := broker.New(config.Options{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	js := New(b, Options{Dir: f.TempDir()})
	if err := js.EnableAll(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(js.Close)
	api := js.of(b.GlobalAccount()).api
	pub := b.GlobalAccount().NewPublisher()
	f.Fuzz(func(t *testing.T, subject string, body []byte) {
		if strings.ContainsAny(subject, " \t\r\n") || len(subject) > 256 {
			return
		}
		api.dispatch(apiRequest{subject: jsAPIPrefix + subject, reply: []byte("_INBOX.fuzz"), body: body}, pub)
	})
}
