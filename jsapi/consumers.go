package jsapi

import (
	"github.com/midgemq/midge/jetstore"
)

// The pull-request subscription of each pull consumer (so that a request
// for a missing consumer gets no-responders).

const jsPullPrefix = "$JS.API.CONSUMER.MSG.NEXT."

// consumerAdded subscribes a pull consumer's request subject.
func (ja *jsAccount) consumerAdded(st *jetstore.Stream, c *jetstore.Consumer) {
	cfg := c.Config()
	if cfg.DeliverSubject != "" {
		return
	}
	for _, subject := range ja.js.apiSubjects(jsPullPrefix + st.Name() + "." + c.Name()) {
		sub, err := ja.acc.Subscribe(subject, "", func(_, reply, _, data []byte) {
			if len(reply) > 0 {
				c.Pull(parsePullRequest(reply, data))
			}
		})
		if err != nil {
			ja.js.log.Error("subscribing pull consumer", "subject", subject, "error", err)
			return
		}
		ja.mu.Lock()
		if old := ja.pullSubs[subject]; old != nil {
			old.Unsubscribe()
		}
		ja.pullSubs[subject] = sub
		ja.mu.Unlock()
	}
}

func (ja *jsAccount) consumerRemoved(st *jetstore.Stream, c *jetstore.Consumer) {
	for _, subject := range ja.js.apiSubjects(jsPullPrefix + st.Name() + "." + c.Name()) {
		ja.mu.Lock()
		sub := ja.pullSubs[subject]
		delete(ja.pullSubs, subject)
		ja.mu.Unlock()
		if sub != nil {
			sub.Unsubscribe()
		}
	}
}
