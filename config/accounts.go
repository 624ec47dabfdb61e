package config

import "time"

// AccountOptions declare an account. Users join it through their Account
// field; each account is an isolated subject space, except for what it
// exports and others import.
type AccountOptions struct {
	Name    string
	Exports []ExportOptions
	Imports []ImportOptions
	// JetStream is the account's own JetStream setting (nats-server's
	// `jetstream` inside an account); nil when it has none. See
	// Options.JetStreamFor.
	JetStream *AccountJetStream
}

// AccountJetStream says whether an account has JetStream and bounds it, as
// nats-server's account `jetstream` block. Sizes are bytes; a limit of 0
// or less is no limit.
type AccountJetStream struct {
	Enabled bool
	// MaxMemory and MaxStore bound the bytes held by the account's memory
	// and file streams.
	MaxMemory, MaxStore int64
	MaxStreams          int
	MaxConsumers        int // consumers per stream
	MaxAckPending       int // a consumer's max_ack_pending
	// MemoryMaxStreamBytes and StoreMaxStreamBytes bound a stream's
	// max_bytes; MaxBytesRequired refuses streams without max_bytes.
	MemoryMaxStreamBytes, StoreMaxStreamBytes int64
	MaxBytesRequired                          bool
}

// JetStreamFor says whether the named account has JetStream, and its
// limits, when the server runs JetStream. As in nats-server: once any
// account has a JetStream setting, the accounts that enable it have
// JetStream and no other does (the global account included); with no
// account saying anything, every account has it, unbounded. (The
// configuration file gives every account it declares a setting, so there
// the first rule always applies.)
func (o *Options) JetStreamFor(name string) (AccountJetStream, bool) {
	if !o.JetStream {
		return AccountJetStream{}, false
	}
	perAccount := false
	for _, a := range o.Accounts {
		if a.JetStream != nil {
			perAccount = true
			if a.Name == name {
				return *a.JetStream, a.JetStream.Enabled
			}
		}
	}
	if perAccount {
		return AccountJetStream{}, false
	}
	return AccountJetStream{Enabled: true}, true
}

// ExportOptions make subjects of an account available to others: a stream
// (messages published in the account flow to importers) or a service
// (importers' requests reach the account's responders, and the responses
// flow back).
type ExportOptions struct {
	// Exactly one of Stream and Service is set; it may hold wildcards.
	Stream  string
	Service string
	// Accounts limits the importers; empty means every account.
	Accounts []string
	// ResponseType of a service: ResponseSingleton (the default, one
	// response per request), ResponseStream or ResponseChunked (any
	// number of responses until ResponseThreshold passes).
	ResponseType string
	// ResponseThreshold is how long a service request's reply stays
	// routable (DefaultResponseThreshold when zero).
	ResponseThreshold time.Duration
}

// Service response types, as the reference server names them.
const (
	ResponseSingleton = "singleton"
	ResponseStream    = "stream"
	ResponseChunked   = "chunked"
)

// DefaultResponseThreshold is how long a service import keeps a request's
// reply routable when the export says nothing.
const DefaultResponseThreshold = 2 * time.Minute

// ImportOptions bring another account's export into this one.
type ImportOptions struct {
	// Exactly one of Stream and Service is set.
	Stream  *ImportSource
	Service *ImportSource
	// Prefix (stream imports) puts imported messages under Prefix + "." +
	// their subject.
	Prefix string
	// To remaps: for a stream, the subject imported messages get here;
	// for a service, the subject this account's clients send requests to.
	// Wildcards in the source subject are carried over in order.
	To string
}

// ImportSource names what is imported: an account and a subject it
// exports (or a subset of one).
type ImportSource struct {
	Account string
	Subject string
}
