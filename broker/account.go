package broker

import (
	"sync"
	"sync/atomic"

	"github.com/midgemq/midge/sublist"
)

// GlobalAccountName is the account of clients that authenticate into no
// account in particular, as in the reference server.
const GlobalAccountName = "$G"

// Account is an isolated subject space: messages never cross from one
// account's subscriptions to another's.
type Account struct {
	name   string
	subs   *sublist.Sublist[*subscription]
	broker *Broker

	// remoteQueueSubs counts routes' queue subscriptions: while there are
	// none, a queue group's member is chosen without weights.
	remoteQueueSubs atomic.Int32

	// svcImports are the account's service imports (imports.go).
	svcImports atomic.Pointer[[]*serviceImport]
}

func newAccount(name string, b *Broker) *Account {
	return &Account{name: name, subs: sublist.New[*subscription](), broker: b}
}

// Name is the account's name.
func (a *Account) Name() string { return a.name }

// NumSubscriptions counts the account's subscriptions, internal ones included.
func (a *Account) NumSubscriptions() int { return a.subs.Count() }

// Subscription is a handle on an internal subscription.
type Subscription struct {
	acc *Account
	sub *subscription
}

// Subscribe registers an internal subscription: h is called synchronously by
// the publishing goroutine for every matching message, so it must be quick
// and must copy anything it keeps. queue may be empty. Like a client's, the
// subscription is interest other servers of a cluster are told about.
func (a *Account) Subscribe(subject, queue string, h MsgHandler) (*Subscription, error) {
	return a.subscribe(subject, queue, h, false)
}

// SubscribeLocal is Subscribe for a subscription only messages published
// on this server reach: it is never announced to other servers (a
// server's own API, which every server of a cluster answers for itself).
func (a *Account) SubscribeLocal(subject, queue string, h MsgHandler) (*Subscription, error) {
	return a.subscribe(subject, queue, h, true)
}

// SubscribeTraced is Subscribe for a receiver that takes part in message
// tracing: traced messages go to th, with their trace, instead of h. It is
// called for trace-only messages too, which it must not act on.
func (a *Account) SubscribeTraced(subject, queue string, h MsgHandler, th TracedHandler) (*Subscription, error) {
	return a.subscribeSub(&subscription{handler: h, traced: th, subject: subject, queue: queue})
}

func (a *Account) subscribe(subject, queue string, h MsgHandler, local bool) (*Subscription, error) {
	return a.subscribeSub(&subscription{handler: h, subject: subject, queue: queue, local: local})
}

func (a *Account) subscribeSub(sub *subscription) (*Subscription, error) {
	if err := a.subs.Insert(sub.subject, sub.queue, sub); err != nil {
		return nil, err
	}
	a.broker.interestChanged(a, sub, 1)
	return &Subscription{acc: a, sub: sub}, nil
}

// Unsubscribe removes the subscription; later calls do nothing.
func (s *Subscription) Unsubscribe() {
	if s.acc.subs.Remove(s.sub.subject, s.sub.queue, s.sub) == nil {
		s.acc.broker.interestChanged(s.acc, s.sub, -1)
	}
}

// Publisher publishes messages from inside the server (JetStream replies and
// deliveries). Its calls are serialised by its lock, but a Stage ... Flush
// batch is one goroutine's: give each goroutine that batches its own.
type Publisher struct {
	mu   sync.Mutex
	prod producer
}

// NewPublisher returns a publisher into the account.
func (a *Account) NewPublisher() *Publisher {
	return &Publisher{prod: producer{acc: a, echo: true}}
}

// Publish delivers one message to the account's subscribers and wakes their
// writers. It reports whether anyone received it.
func (p *Publisher) Publish(subject, reply, header, data []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	delivered := p.stageLocked(subject, reply, header, data)
	p.prod.flushes.kickAll()
	return delivered
}

// Stage delivers like Publish but leaves the receivers' writers asleep
// until Flush, so that a batch of messages costs one wake-up per receiver.
func (p *Publisher) Stage(subject, reply, header, data []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stageLocked(subject, reply, header, data)
}

// StageAs is Stage for a message routed by subject route but shown to its
// receivers with subject shown.
func (p *Publisher) StageAs(route, shown, reply, header, data []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prod.shown = shown
	delivered := p.stageLocked(route, reply, header, data)
	p.prod.shown = nil
	return delivered
}

// Flush wakes the writers of everyone Stage delivered to.
func (p *Publisher) Flush() {
	p.mu.Lock()
	p.prod.flushes.kickAll()
	p.prod.stallLeft = stallBudget
	p.mu.Unlock()
}

func (p *Publisher) stageLocked(subject, reply, header, data []byte) bool {
	if p.prod.stallLeft <= 0 {
		p.prod.stallLeft = stallBudget
	}
	pa := pubArg(subject, reply, header, data)
	return p.prod.publish(&pa)
}

// HasInterest reports whether any subscription matches subject.
func (a *Account) HasInterest(subject string) bool { return a.subs.HasInterest(subject) }

// HasInterestBytes is HasInterest without converting the subject.
func (a *Account) HasInterestBytes(subject []byte) bool { return a.subs.MatchBytes(subject).Len() > 0 }

// SublistStats are the figures of the account's subscription index.
func (a *Account) SublistStats() sublist.Stats { return a.subs.Stats() }
