package config

// AccountOptions declare an account. Users join it through their Account
// field; each account is an isolated subject space.
type AccountOptions struct {
	Name string
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
