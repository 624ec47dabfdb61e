package broker

import (
	"math/rand/v2"
	"time"
)

// Lame duck mode, the broker's part: clients are told with an INFO carrying
// "ldm":true (nats.go calls its LameDuckModeHandler and, once closed,
// reconnects elsewhere), then closed spread over a span so that they do not
// reconnect elsewhere in lockstep. The server decides when.

// maxCloseInterval caps the pause between two client closes: a handful of
// clients need not be spread over the whole duration.
const maxCloseInterval = time.Second

// EnterLameDuck marks every INFO from now on with "ldm":true and sends it to
// the connected clients that understand asynchronous INFOs. It returns
// those clients in random order, for CloseGradually.
func (b *Broker) EnterLameDuck() []*LameDuckClient {
	b.lameDuck.Store(true)
	clients := b.natsClients()
	rand.Shuffle(len(clients), func(i, j int) { clients[i], clients[j] = clients[j], clients[i] })
	out := make([]*LameDuckClient, len(clients))
	for i, c := range clients {
		c.sendAsyncInfo()
		out[i] = &LameDuckClient{c}
	}
	return out
}

// LameDuckClient is a client to be closed in lame duck mode.
type LameDuckClient struct{ c *client }

// sendAsyncInfo sends the client a fresh INFO if it understands INFOs
// after the first (it said so with protocol 1 in its CONNECT).
func (c *client) sendAsyncInfo() {
	c.mu.Lock()
	understands := c.mon.hello && c.mon.protocol >= 1
	c.mu.Unlock()
	if understands {
		c.sendProtoNow(c.infoLine())
	}
}

// CloseGradually closes the clients one by one over span, pausing between
// closes for a random half to whole share of it. It stops early when stop
// is closed.
func (b *Broker) CloseGradually(clients []*LameDuckClient, span time.Duration, stop <-chan struct{}) {
	if len(clients) == 0 {
		return
	}
	if span <= 0 {
		span = time.Second
	}
	interval := min(span/time.Duration(len(clients)), maxCloseInterval)
	b.log.Info("lame duck mode: closing clients", "clients", len(clients), "interval", interval)
	for i, lc := range clients {
		lc.c.closeConnection(CloseServerShutdown, true)
		if i == len(clients)-1 || interval <= 0 {
			continue
		}
		if !waitOrStopped(interval/2+rand.N(interval/2+1), stop) {
			return
		}
	}
}

// waitOrStopped waits d and reports true, or false if stop closed first.
func waitOrStopped(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
