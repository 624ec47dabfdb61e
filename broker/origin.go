package broker

import (
	"time"

	"github.com/midgemq/midge/parser"
)

// Who published a message, for internal subscriptions that need to know
// (the JetStream API's audit advisories name the requesting client). Only
// subscriptions made with SubscribeLocalFrom pay for it, and only when
// they ask: Origin is a handle, and the description is built by Info.

// ClientInfo describes a client connection in the reference server's
// shape (the "client" of events and advisories).
type ClientInfo struct {
	Start      *time.Time    `json:"start,omitempty"`
	Host       string        `json:"host,omitempty"`
	ID         uint64        `json:"id,omitempty"`
	Account    string        `json:"acc,omitempty"`
	User       string        `json:"user,omitempty"`
	Name       string        `json:"name,omitempty"`
	Lang       string        `json:"lang,omitempty"`
	Version    string        `json:"ver,omitempty"`
	RTT        time.Duration `json:"rtt,omitempty"`
	Server     string        `json:"server,omitempty"`
	Cluster    string        `json:"cluster,omitempty"`
	Kind       string        `json:"kind,omitempty"`
	ClientType string        `json:"client_type,omitempty"`
}

// Origin is the publisher of a message: a client of this server, or the
// server itself (an internal publisher, a route).
type Origin struct{ c *client }

// Info describes the publishing client; nil when the message did not come
// from a client of this server. It may be called from any goroutine, also
// after the handler returned.
func (o Origin) Info() *ClientInfo {
	c := o.c
	if c == nil {
		return nil
	}
	b := c.broker
	start := c.start.UTC()
	info := &ClientInfo{
		Start:      &start,
		Host:       c.host,
		ID:         c.cid,
		RTT:        time.Duration(c.mon.rtt.Load()),
		Server:     b.name,
		Kind:       "Client",
		ClientType: c.kind.String(),
	}
	if name := b.clusterName.Load(); name != nil {
		info.Cluster = *name
	}
	c.mu.Lock()
	if c.acc != nil {
		info.Account = c.acc.name
	}
	if c.sec.user != nil {
		info.User = c.sec.user.name
	}
	info.Name, info.Lang, info.Version = c.mon.name, c.mon.lang, c.mon.version
	c.mu.Unlock()
	return info
}

// OriginHandler is a MsgHandler that is also told who published the
// message.
type OriginHandler func(from Origin, subject, reply, header, data []byte)

// SubscribeLocalFrom is SubscribeLocal for a handler that learns who
// published each message.
func (a *Account) SubscribeLocalFrom(subject string, h OriginHandler) (*Subscription, error) {
	return a.subscribeSub(&subscription{from: h, subject: subject, local: true})
}

// deliverInternal hands a message to an internal subscription or, for a
// route's interest, adds the route to the message's destinations.
func (p *producer) deliverInternal(sub *subscription, pa *parser.PubArg) bool {
	if sub.remote != nil {
		return p.targetRemote(sub.remote, "")
	}
	subject := pa.Subject
	if p.shown != nil { // an internal receiver of consumer deliveries (MQTT) sees what clients see
		subject = p.shown
	}
	if sub.from != nil {
		sub.from(Origin{p.self}, subject, pa.Reply, pa.Header, pa.Data)
		return true
	}
	sub.handler(subject, pa.Reply, pa.Header, pa.Data)
	return true
}
