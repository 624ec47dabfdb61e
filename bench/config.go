package bench

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults for Config fields left at their zero value. Counts and sizes match
// `nats bench` so that the two tools run the same load unless told otherwise.
const (
	DefaultURL     = nats.DefaultURL
	DefaultMsgs    = 100_000
	DefaultSize    = 128
	DefaultSubject = "midge.bench"
	// DefaultJSSubject is the JetStream scenarios' subject: a different one,
	// so a stream left behind does not capture core benchmark traffic.
	DefaultJSSubject = "midge.bench.js"
	DefaultStream    = "benchstream"
	DefaultBucket    = "benchbucket"
	DefaultWindow    = 500 // async JetStream publishes in flight per publisher
	DefaultBatch     = 500 // messages per fetch / pull request
	DefaultTimeout   = 10 * time.Second
)

// Config describes one benchmark run. The zero value of most fields means
// the default (see Normalize); Pubs and Subs default per scenario.
type Config struct {
	Scenario string // a name from Scenarios()
	URL      string // server to connect to
	// ServerName names the server in reports instead of its URL
	// ("embedded midge" for the in-process server).
	ServerName string
	// ServerSlowConsumers, when set, reads the server's count of clients it
	// closed as slow consumers, before and after the run (see VarzSlowConsumers
	// and Embedded), so that a connection the server closed without saying
	// why can be told apart from other disconnects.
	ServerSlowConsumers SlowConsumerCounter

	Msgs     int           // messages to publish in total (split across publishers)
	Size     int           // payload bytes per message (0 means DefaultSize)
	Duration time.Duration // when > 0, publishers run this long instead of sending Msgs
	Pubs     int           // publishers / requesters / putters
	Subs     int           // subscribers / responders / consumers / getters
	Subject  string        // subject, or the stream's subject for JetStream scenarios
	Stream   string        // stream name (JetStream) or bucket name (kv-*)
	Storage  string        // "file" or "memory"
	Replicas int           // js-*: the stream's num_replicas (0: the server's default, one)
	SyncPub  bool          // js-pub: wait for each ack before the next publish
	Window   int           // js-pub async: max publishes awaiting an ack per publisher
	Batch    int           // js-fetch/js-consume/js-ordered: messages per pull request
	Timeout  time.Duration // a phase making no progress this long fails the run
	// NoResponders: reqrep sends to responders that already run elsewhere
	// (e.g. `nats bench service serve`) instead of starting its own.
	NoResponders bool

	// Authentication, passed to nats.go as is.
	Creds, User, Password, Token string

	// Progress receives live progress; nil means none.
	Progress Progress
	// Ready, when set, is called once the receivers of a run are subscribed
	// (the sub scenario waits for an outside publisher after it).
	Ready func()

	// Test hooks: the subscribers' pending-message limit (0: unlimited) and
	// a function core subscribers call before counting each message.
	pendingLimit int
	onReceive    func()
}

// Normalize fills defaults and checks the configuration against its
// scenario. It returns the scenario to run.
func (c *Config) Normalize() (*Scenario, error) {
	sc, ok := lookupScenario(c.Scenario)
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (one of %s)", c.Scenario, ScenarioNames())
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Msgs == 0 {
		c.Msgs = DefaultMsgs
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Subject == "" {
		c.Subject = DefaultSubject
		if sc.JetStream {
			c.Subject = DefaultJSSubject
		}
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
		if sc.KV {
			c.Stream = DefaultBucket
		}
	}
	if c.Storage == "" {
		c.Storage = "file"
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Progress == nil {
		c.Progress = NopProgress{}
	}
	if c.Pubs == 0 {
		c.Pubs = sc.DefaultPubs
	}
	if c.Subs == 0 && !c.NoResponders {
		c.Subs = sc.DefaultSubs
	}
	return sc, c.check(sc)
}

func (c *Config) check(sc *Scenario) error {
	var errs []error
	if c.Msgs < 0 {
		errs = append(errs, errors.New("--msgs must not be negative"))
	}
	if c.Size < 0 {
		errs = append(errs, errors.New("--size must not be negative"))
	}
	if c.Duration < 0 {
		errs = append(errs, errors.New("--duration must not be negative"))
	}
	if c.Storage != "file" && c.Storage != "memory" {
		errs = append(errs, fmt.Errorf("--storage must be file or memory, not %q", c.Storage))
	}
	if c.Window < 1 || c.Batch < 1 || c.Timeout <= 0 {
		errs = append(errs, errors.New("window, batch and timeout must be positive"))
	}
	if err := sc.checkClients(c.Pubs, c.Subs, c.NoResponders); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// serverLabel is how reports name the server.
func (c *Config) serverLabel() string {
	if c.ServerName != "" {
		return c.ServerName
	}
	return c.URL
}

// natsOptions are the connection options every client of a run uses.
// Reconnecting is off: a benchmark that silently reconnects hides lost
// messages and measures the reconnect instead of the server.
func (c *Config) natsOptions(name string) []nats.Option {
	opts := []nats.Option{
		nats.Name(name),
		nats.NoReconnect(),
		nats.Timeout(c.Timeout),
	}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.User != "" || c.Password != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	return opts
}

// perClient splits total into n near-equal shares, the first ones larger.
func perClient(total, n int) []int {
	shares := make([]int, n)
	for i := range shares {
		shares[i] = total / n
		if i < total%n {
			shares[i]++
		}
	}
	return shares
}
