package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
)

// A benchmark is only as good as its connections: a subscriber the server
// closes as a slow consumer, or one that reconnects, turns the rates into
// fiction and the lost messages into a mystery. Every client connection of
// a run therefore reports its disconnects, reconnects and slow-consumer
// events here, each one fails the run, and the report names the cause.
//
// nats.go tells two kinds of slow consumer apart. In the client, a
// subscription whose pending limits overflow drops messages and raises the
// asynchronous error nats.ErrSlowConsumer. In the server, a client that does
// not read fast enough is closed: nats-server and midge just close the
// socket (the client sees EOF), other servers may first send
// -ERR 'Slow Consumer', which nats.go turns into the disconnect's error. An
// EOF alone does not say why, so when the run can ask the server for its
// slow-consumer count (an embedded midge, or /varz through
// Config.ServerSlowConsumers) the difference over the run is reported too.

// ConnectionEvents is what happened to one client connection during a run
// other than its messages. Only connections with an event are reported.
type ConnectionEvents struct {
	Client      string `json:"client"`
	Disconnects int64  `json:"disconnects"`
	Reconnects  int64  `json:"reconnects"`
	// SlowConsumer counts slow-consumer events: the server closing the
	// connection as one (when it said so), or nats.go dropping messages.
	SlowConsumer int64  `json:"slow_consumer"`
	Cause        string `json:"cause,omitempty"` // the last disconnect's error
}

// SlowConsumerCounter reads a server's total of clients it closed as slow
// consumers; the run reports how much it grew.
type SlowConsumerCounter func(ctx context.Context) (int64, error)

// events collects the connection events of one run.
type events struct {
	mu     sync.Mutex
	byConn map[string]*ConnectionEvents
	order  []string
}

func (e *events) get(client string) *ConnectionEvents {
	if e.byConn == nil {
		e.byConn = map[string]*ConnectionEvents{}
	}
	ce := e.byConn[client]
	if ce == nil {
		ce = &ConnectionEvents{Client: client}
		e.byConn[client] = ce
		e.order = append(e.order, client)
	}
	return ce
}

// disconnected records a disconnect and its cause.
func (e *events) disconnected(client string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ce := e.get(client)
	ce.Disconnects++
	ce.Cause = disconnectCause(err)
	if isSlowConsumerErr(err) {
		ce.SlowConsumer++
	}
}

func (e *events) reconnected(client string) {
	e.mu.Lock()
	e.get(client).Reconnects++
	e.mu.Unlock()
}

func (e *events) slowInClient(client string) {
	e.mu.Lock()
	e.get(client).SlowConsumer++
	e.mu.Unlock()
}

// any reports whether a connection was lost or reconnected.
func (e *events) any() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ce := range e.byConn {
		if ce.Disconnects > 0 || ce.Reconnects > 0 {
			return true
		}
	}
	return false
}

// list returns the events in the order the connections first had one.
func (e *events) list() []ConnectionEvents {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ConnectionEvents, 0, len(e.order))
	for _, c := range e.order {
		out = append(out, *e.byConn[c])
	}
	return out
}

func isSlowConsumerErr(err error) bool {
	return err != nil && (errors.Is(err, nats.ErrSlowConsumer) ||
		strings.Contains(strings.ToLower(err.Error()), "slow consumer"))
}

// disconnectCause says in words why a connection went away.
func disconnectCause(err error) string {
	switch {
	case err == nil:
		return "closed without an error"
	case isSlowConsumerErr(err):
		return "closed by the server as a slow consumer (" + err.Error() + ")"
	case errors.Is(err, io.EOF):
		return "closed by the server (EOF)"
	}
	return err.Error()
}

// eventOptions are the nats.go handlers that feed a connection's events
// into the run. Events after the run started closing its connections are
// the benchmark's own doing and ignored.
func (r *run) eventOptions(name string) []nats.Option {
	return []nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				r.events.slowInClient(name)
				r.fail("%s: slow consumer in the client: nats.go dropped messages its handler could not take", name)
				return
			}
			r.fail("%s: %v", name, err)
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if r.closing.Load() {
				return
			}
			if err == nil {
				// Without reconnects nats.go closes the connection and
				// passes no error; the read loop's error is the last one.
				err = nc.LastError()
			}
			r.events.disconnected(name, err)
			r.fail("%s disconnected: %s", name, disconnectCause(err))
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			r.events.reconnected(name)
			r.fail("%s reconnected: its messages in between were lost or sent twice", name)
		}),
	}
}

// serverSlowConsumers reads the server's slow-consumer total, or -1 when the
// run has no way to ask or the question failed.
func (r *run) serverSlowConsumers() int64 {
	if r.cfg.ServerSlowConsumers == nil {
		return -1
	}
	ctx, cancel := r.opCtx()
	defer cancel()
	n, err := r.cfg.ServerSlowConsumers(ctx)
	if err != nil {
		r.warn("could not read the server's slow-consumer count: %v", err)
		return -1
	}
	return n
}

// accountEvents puts the connection events into the report. When the
// server's own slow-consumer count grew during the run, connections it
// closed without saying why (EOF) are attributed to it, as far as the count
// goes; a count that grew while none of ours was closed is someone else's,
// and only a warning.
func (r *run) accountEvents(rep *Report) {
	rep.ServerSlowConsumers = -1
	if r.slowBefore >= 0 {
		if after := r.serverSlowConsumers(); after >= 0 {
			rep.ServerSlowConsumers = after - r.slowBefore
		}
	}
	rep.Connections = r.events.list()
	attributable := max(rep.ServerSlowConsumers, 0)
	for i := range rep.Connections {
		ce := &rep.Connections[i]
		if attributable > 0 && ce.SlowConsumer == 0 && ce.Disconnects > 0 && strings.Contains(ce.Cause, "EOF") {
			ce.SlowConsumer = 1
			ce.Cause += fmt.Sprintf("; the server counted %d slow consumer%s during the run",
				rep.ServerSlowConsumers, plural(rep.ServerSlowConsumers))
			attributable--
			r.fail("%s was closed by the server as a slow consumer", ce.Client)
		}
		rep.Disconnects += ce.Disconnects
		rep.Reconnects += ce.Reconnects
		rep.SlowConsumers += ce.SlowConsumer
	}
	if attributable > 0 && attributable == rep.ServerSlowConsumers {
		r.warn("the server closed %d slow consumer%s during the run, none of them this run's",
			attributable, plural(attributable))
	}
}

// FailureSummary is one line saying why the run failed, the most telling
// cause first: slow consumers, then disconnects and reconnects, then lost
// messages, then the number of other errors. It is "" for a run that
// succeeded.
func (r *Report) FailureSummary() string {
	if r.OK() {
		return ""
	}
	var parts []string
	var slowClients []string
	for _, ce := range r.Connections {
		if ce.SlowConsumer > 0 {
			slowClients = append(slowClients, ce.Client)
		}
	}
	sort.Strings(slowClients)
	switch {
	case len(slowClients) > 0:
		parts = append(parts, fmt.Sprintf("slow consumer%s: %s", plural(int64(len(slowClients))), strings.Join(slowClients, ", ")))
	case r.ServerSlowConsumers > 0:
		parts = append(parts, fmt.Sprintf("the server closed %d slow consumer%s", r.ServerSlowConsumers, plural(r.ServerSlowConsumers)))
	}
	for _, ce := range r.Connections {
		if ce.Disconnects > 0 && ce.SlowConsumer == 0 {
			parts = append(parts, fmt.Sprintf("%s disconnected: %s", ce.Client, ce.Cause))
		}
	}
	if r.Reconnects > 0 {
		parts = append(parts, fmt.Sprintf("%d reconnect%s", r.Reconnects, plural(r.Reconnects)))
	}
	if r.Lost > 0 {
		parts = append(parts, fmt.Sprintf("%s of %s messages lost", commas(float64(r.Lost)), commas(float64(r.Expected))))
	}
	if len(parts) == 0 {
		parts = append(parts, fmt.Sprintf("%d error%s", len(r.Errors), plural(int64(len(r.Errors)))))
	}
	return strings.Join(parts, "; ")
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// VarzSlowConsumers reads slow_consumers from the /varz endpoint of a
// server's monitoring port (nats-server and midge both serve it), given the
// monitoring base URL such as http://127.0.0.1:8222.
func VarzSlowConsumers(monitorURL string) SlowConsumerCounter {
	url := strings.TrimSuffix(monitorURL, "/") + "/varz"
	return func(ctx context.Context) (int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("%s: %s", url, resp.Status)
		}
		var v struct {
			SlowConsumers *int64 `json:"slow_consumers"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&v); err != nil {
			return 0, fmt.Errorf("%s: %w", url, err)
		}
		if v.SlowConsumers == nil {
			return 0, fmt.Errorf("%s has no slow_consumers", url)
		}
		return *v.SlowConsumers, nil
	}
}
