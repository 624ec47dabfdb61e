package jsapi

import (
	"encoding/json"
	"strings"

	"github.com/midgemq/midge/broker"
)

// Accounts without JetStream (Options.Account) answer the API's requests
// with the reference server's error, so that clients learn why instead of
// waiting for a reply that never comes.

// responseTypes are the response types of the requests an account without
// JetStream answers, by the subject tokens after $JS.API.
var responseTypes = map[string]string{
	"INFO":                    "account_info_response",
	"STREAM.CREATE":           "stream_create_response",
	"STREAM.UPDATE":           "stream_update_response",
	"STREAM.INFO":             "stream_info_response",
	"STREAM.DELETE":           "stream_delete_response",
	"STREAM.PURGE":            "stream_purge_response",
	"STREAM.NAMES":            "stream_names_response",
	"STREAM.LIST":             "stream_list_response",
	"STREAM.MSG.GET":          "stream_msg_get_response",
	"STREAM.MSG.DELETE":       "stream_msg_delete_response",
	"CONSUMER.CREATE":         "consumer_create_response",
	"CONSUMER.DURABLE.CREATE": "consumer_create_response",
	"CONSUMER.INFO":           "consumer_info_response",
	"CONSUMER.DELETE":         "consumer_delete_response",
	"CONSUMER.NAMES":          "consumer_names_response",
	"CONSUMER.LIST":           "consumer_list_response",
	"CONSUMER.PAUSE":          "consumer_pause_response",
}

// responseType finds the response type of a request subject ($JS.API.
// form); "" when the request gets no answer.
func responseType(subject string) string {
	rest := strings.TrimPrefix(subject, jsAPIPrefix)
	best, bestLen := "", -1
	for prefix, typ := range responseTypes {
		if (rest == prefix || strings.HasPrefix(rest, prefix+".")) && len(prefix) > bestLen {
			best, bestLen = typ, len(prefix)
		}
	}
	return best
}

// refuse subscribes the API of an account without JetStream.
func (j *JetStream) refuse(acc *broker.Account) error {
	pub := acc.NewPublisher()
	answer := func(subject, reply, _, _ []byte) {
		if len(reply) == 0 {
			return
		}
		typ := responseType(j.apiSubject(string(subject)))
		if typ == "" {
			return
		}
		body, _ := json.Marshal(apiResponse{Type: jsTypePrefix + typ, Error: jsErrNotEnabledForAccount})
		pub.Publish(reply, nil, nil, body)
	}
	var subs []*broker.Subscription
	for _, subject := range j.apiSubjects(jsAPIPrefix + ">") {
		sub, err := acc.SubscribeLocal(subject, "", answer)
		if err != nil {
			for _, s := range subs {
				s.Unsubscribe()
			}
			return err
		}
		subs = append(subs, sub)
	}
	j.mu.Lock()
	j.refusing[acc] = subs
	j.mu.Unlock()
	return nil
}
