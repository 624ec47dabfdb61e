package config

import (
	"strings"
)

// An account's `jetstream` setting in nats-server's format:
//
//	accounts {
//	  A { jetstream: enabled, users: [...] }
//	  B { jetstream { max_mem: 1G, max_file: 10G, max_streams: 10, max_consumers: 100 } }
//	}
//
// A block enables JetStream with its limits (-1 or absent: no limit).
// Every account the file declares gets a setting, disabled unless it says
// otherwise: with accounts declared, JetStream is for those that enable it
// (Options.JetStreamFor).

func accountJetStreamKey(cp *configParser, a *accountEntry, v cval) {
	js := &AccountJetStream{}
	switch x := v.v.(type) {
	case bool:
		js.Enabled = x
	case string:
		switch strings.ToLower(x) {
		case "enabled", "enable":
			js.Enabled = true
		case "disabled", "disable":
		default:
			cp.errorf(v, "expected enabled, disabled or a block { ... }, got %q", x)
			return
		}
	default:
		m, ok := cp.mapValue(v)
		if !ok {
			return
		}
		js.Enabled = true
		applySection(cp, js, m, accountJetStreamKeys, v.path)
	}
	a.jetstream = js
}

// limitKey reads a count; -1 (or any negative) is no limit.
func limitKey(set func(*AccountJetStream, int)) keyHandler[AccountJetStream] {
	return func(cp *configParser, js *AccountJetStream, v cval) {
		n, ok := v.v.(int64)
		if !ok {
			cp.errorf(v, "expected a number (-1 for no limit), got %s", describe(v))
			return
		}
		set(js, int(max(n, 0)))
	}
}

var accountJetStreamKeys = map[string]keyHandler[AccountJetStream]{
	"max_memory":              sizeKey(func(js *AccountJetStream, n int64) { js.MaxMemory = n }),
	"max_store":               sizeKey(func(js *AccountJetStream, n int64) { js.MaxStore = n }),
	"max_streams":             limitKey(func(js *AccountJetStream, n int) { js.MaxStreams = n }),
	"max_consumers":           limitKey(func(js *AccountJetStream, n int) { js.MaxConsumers = n }),
	"max_ack_pending":         limitKey(func(js *AccountJetStream, n int) { js.MaxAckPending = n }),
	"max_bytes_required":      boolKey(func(js *AccountJetStream) *bool { return &js.MaxBytesRequired }),
	"memory_max_stream_bytes": sizeKey(func(js *AccountJetStream, n int64) { js.MemoryMaxStreamBytes = n }),
	"store_max_stream_bytes":  sizeKey(func(js *AccountJetStream, n int64) { js.StoreMaxStreamBytes = n }),
	// Clustering: which account the replication traffic counts against;
	// midge has no such traffic.
	"cluster_traffic": func(cp *configParser, _ *AccountJetStream, v cval) { cp.tolerate(v.path) },
}

func init() {
	// nats-server's aliases; added here so the table stays a literal.
	for alias, key := range map[string]string{
		"max_mem": "max_memory", "mem": "max_memory", "memory": "max_memory",
		"max_file": "max_store", "max_disk": "max_store", "store": "max_store", "disk": "max_store",
		"streams": "max_streams", "consumers": "max_consumers",
		"max_stream_bytes": "max_bytes_required", "max_bytes": "max_bytes_required",
		"mem_max_stream_bytes":  "memory_max_stream_bytes",
		"disk_max_stream_bytes": "store_max_stream_bytes",
	} {
		accountJetStreamKeys[alias] = accountJetStreamKeys[key]
	}
	accountKeys["jetstream"] = accountJetStreamKey
}
