package jsapi

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
	"github.com/midgemq/midge/logging"
)

// JetStream is the JetStream of every account that has it: with JetStream
// on, each account gets its own store directory and API subscriptions in
// its own subject space. It also gives other adapters (the MQTT gateway)
// typed access to an account's streams.
type JetStream struct {
	broker *broker.Broker
	log    logging.Logger
	opts   Options

	mu        sync.Mutex
	byAccount map[*broker.Account]*jsAccount
	refusing  map[*broker.Account][]*broker.Subscription // accounts without JetStream

	// cluster, when set (before EnableAll), replicates every stream and
	// decides where each request is handled (cluster.go).
	cluster Cluster
}

// Options configure the stores.
type Options struct {
	// Dir holds a directory per account.
	Dir string
	// SyncInterval 0 fsyncs before every acknowledgement (group
	// committed); a positive value acknowledges once written and fsyncs at
	// that interval.
	SyncInterval time.Duration
	// BlockSize is the size at which block files roll over (0: the
	// store's default).
	BlockSize int64
	// Observer, when set, sees every group commit.
	Observer jetstore.CommitObserver
	// Account says whether an account has JetStream and its limits; nil
	// gives every account JetStream without limits. An account without
	// JetStream answers its API requests with "JetStream not enabled for
	// account".
	Account func(name string) (jetstore.Limits, bool)
	// Pool, when set, bounds the bytes of every account's streams together
	// (the server's max_memory_store and max_file_store).
	Pool *jetstore.Pool
	// Domain, when set, is the JetStream domain: the API also answers on
	// $JS.<domain>.API.>, and account info and publish acks name it.
	Domain string
}

// New returns the JetStream layer of b; accounts get theirs with Enable.
func New(b *broker.Broker, opts Options) *JetStream {
	// Ack subjects are unique per delivered message: caching their
	// matches would only churn the caches.
	b.AddOneTimePrefix(jsAckPrefix)
	return &JetStream{broker: b, log: b.Logger(), opts: opts, byAccount: make(map[*broker.Account]*jsAccount),
		refusing: make(map[*broker.Account][]*broker.Subscription)}
}

// EnableAll enables JetStream in every account of the broker.
func (j *JetStream) EnableAll() error {
	for _, acc := range j.broker.Accounts() {
		if err := j.Enable(acc); err != nil {
			j.Close()
			return err
		}
	}
	return nil
}

// Enable opens an account's store, subscribes its API and attaches the
// streams it holds; an account Options.Account gives no JetStream gets the
// refusing API instead.
func (j *JetStream) Enable(acc *broker.Account) error {
	return j.EnableWith(acc, j.opts.Account)
}

// EnableWith is Enable with account in place of Options.Account (a reload
// enables added accounts from the configuration it is about to install).
func (j *JetStream) EnableWith(acc *broker.Account, account func(name string) (jetstore.Limits, bool)) error {
	limits, enabled := jetstore.Limits{}, true
	if account != nil {
		limits, enabled = account(acc.Name())
	}
	if !enabled {
		return j.refuse(acc)
	}
	ja, err := j.open(acc, limits)
	if err != nil {
		return err
	}
	j.mu.Lock()
	j.byAccount[acc] = ja
	j.mu.Unlock()
	return nil
}

// Disable closes an account's JetStream (a reload that failed half way).
func (j *JetStream) Disable(acc *broker.Account) {
	j.mu.Lock()
	ja := j.byAccount[acc]
	delete(j.byAccount, acc)
	refusing := j.refusing[acc]
	delete(j.refusing, acc)
	j.mu.Unlock()
	for _, sub := range refusing {
		sub.Unsubscribe()
	}
	if ja != nil {
		ja.close()
	}
}

// Close stops the API and the stores, which commit and acknowledge what is
// queued.
func (j *JetStream) Close() {
	j.mu.Lock()
	all := j.byAccount
	j.byAccount = make(map[*broker.Account]*jsAccount)
	refusing := j.refusing
	j.refusing = make(map[*broker.Account][]*broker.Subscription)
	j.mu.Unlock()
	for _, ja := range all {
		ja.close()
	}
	for _, subs := range refusing {
		for _, sub := range subs {
			sub.Unsubscribe()
		}
	}
}

// of is an account's JetStream, nil without.
func (j *JetStream) of(acc *broker.Account) *jsAccount {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.byAccount[acc]
}

// list is every account's JetStream, in account name order.
func (j *JetStream) list() []*jsAccount {
	var out []*jsAccount
	for _, acc := range j.broker.Accounts() {
		if ja := j.of(acc); ja != nil {
			out = append(out, ja)
		}
	}
	return out
}

// Enabled reports whether the account has JetStream (mqttgw.Streams).
func (j *JetStream) Enabled(acc *broker.Account) bool { return j.of(acc) != nil }

// EnsureStream creates a stream in the account's store and subscribes its
// subjects, or takes the existing one (restored at start, or with a
// configuration an operator changed) (mqttgw.Streams).
func (j *JetStream) EnsureStream(acc *broker.Account, cfg jetstore.StreamConfig) (*jetstore.Stream, error) {
	ja := j.of(acc)
	if ja == nil {
		return nil, fmt.Errorf("account %s has no JetStream", acc.Name())
	}
	if j.cluster != nil {
		return nil, errors.New("streams of protocol gateways are not replicated yet: not available in a JetStream cluster")
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

// AccountInfo is one account's JetStream as monitoring reads it.
type AccountInfo struct {
	Name  string
	Store *jetstore.Store
	Dir   string
	// APIRequests and APIErrors count the account's API requests.
	APIRequests, APIErrors uint64
}

// APILevel is the JetStream API level midge implements, as /jsz states it.
const APILevel = jsAPILevel

// Accounts describes every account's JetStream, in account name order.
func (j *JetStream) Accounts() []AccountInfo {
	var out []AccountInfo
	for _, ja := range j.list() {
		out = append(out, AccountInfo{
			Name:        ja.acc.Name(),
			Store:       ja.store,
			Dir:         j.accountDir(ja.acc),
			APIRequests: uint64(ja.api.total.Load()),
			APIErrors:   uint64(ja.api.errors.Load()),
		})
	}
	return out
}

func (j *JetStream) accountDir(acc *broker.Account) string {
	return filepath.Join(j.opts.Dir, acc.Name())
}
