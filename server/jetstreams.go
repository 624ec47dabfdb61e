package server

import (
	"errors"
	"fmt"
	"sync"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// jetStreams is the JetStream of every account that has it: with JetStream
// on, each account gets its own store directory and API subscriptions in
// its own subject space. It also gives the MQTT gateway its typed access to
// an account's streams.
type jetStreams struct {
	srv *Server

	mu        sync.Mutex
	byAccount map[*broker.Account]*jsAccount
}

func (j *jetStreams) init(s *Server) {
	j.srv = s
	j.byAccount = make(map[*broker.Account]*jsAccount)
	// Ack subjects are unique per delivered message: caching their
	// matches would only churn the caches.
	s.broker.AddOneTimePrefix(jsAckPrefix)
}

// start enables JetStream in every account when the options ask for it.
func (j *jetStreams) start() error {
	if !j.srv.opts().JetStream {
		return nil
	}
	for _, acc := range j.srv.broker.Accounts() {
		if err := j.enable(acc); err != nil {
			j.close()
			return err
		}
	}
	return nil
}

// enable opens an account's store and subscribes its API.
func (j *jetStreams) enable(acc *broker.Account) error {
	ja, err := j.srv.enableJetStream(acc)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.byAccount[acc] = ja
	j.mu.Unlock()
	return nil
}

// disable closes an account's JetStream (a reload that failed half way).
func (j *jetStreams) disable(acc *broker.Account) {
	j.mu.Lock()
	ja := j.byAccount[acc]
	delete(j.byAccount, acc)
	j.mu.Unlock()
	if ja != nil {
		ja.close()
	}
}

// close stops the API and the stores, which commit and acknowledge what is
// queued.
func (j *jetStreams) close() {
	j.mu.Lock()
	all := j.byAccount
	j.byAccount = make(map[*broker.Account]*jsAccount)
	j.mu.Unlock()
	for _, ja := range all {
		ja.close()
	}
}

// of is an account's JetStream, nil without.
func (j *jetStreams) of(acc *broker.Account) *jsAccount {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.byAccount[acc]
}

// list is every account's JetStream, in account name order.
func (j *jetStreams) list() []*jsAccount {
	var out []*jsAccount
	for _, acc := range j.srv.broker.Accounts() {
		if ja := j.of(acc); ja != nil {
			out = append(out, ja)
		}
	}
	return out
}

// Enabled reports whether the account has JetStream (mqttgw.Streams).
func (j *jetStreams) Enabled(acc *broker.Account) bool { return j.of(acc) != nil }

// EnsureStream creates a stream in the account's store and subscribes its
// subjects, or takes the existing one (restored at start, or with a
// configuration an operator changed) (mqttgw.Streams).
func (j *jetStreams) EnsureStream(acc *broker.Account, cfg jetstore.StreamConfig) (*jetstore.Stream, error) {
	ja := j.of(acc)
	if ja == nil {
		return nil, fmt.Errorf("account %s has no JetStream", acc.Name())
	}
	st, created, err := ja.store.AddStream(cfg)
	if errors.Is(err, jetstore.ErrStreamNameInUse) {
		return ja.store.Stream(cfg.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", cfg.Name, err)
	}
	if created {
		if err := ja.attach(st); err != nil {
			return nil, err
		}
	}
	return st, nil
}
