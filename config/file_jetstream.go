package config

import (
	"math"
	"strconv"
	"strings"
)

// The jetstream block of the configuration file, as nats-server spells it:
// `jetstream: enabled`, `jetstream: true`, or
// `jetstream { store_dir: "/data", max_file_store: 10G, sync_interval: always }`.

func jetstreamKey(cp *configParser, o *Options, v cval) {
	switch x := v.v.(type) {
	case bool:
		o.JetStream = x
	case string:
		switch strings.ToLower(x) {
		case "enabled", "enable", "true", "on":
			o.JetStream = true
		case "disabled", "disable", "false", "off":
			o.JetStream = false
		default:
			cp.errorf(v, "expected enabled, disabled or a block { ... }, got %q", x)
		}
	default:
		if m, ok := cp.mapValue(v); ok {
			o.JetStream = true
			applySection(cp, o, m, jetstreamKeys, v.path)
		}
	}
}

var jetstreamKeys = map[string]keyHandler[Options]{
	"store_dir": strKey(func(o *Options) *string { return &o.StoreDir }),
	"enabled":   boolKey(func(o *Options) *bool { return &o.JetStream }),
	"sync_interval": func(cp *configParser, o *Options, v cval) {
		if s, ok := v.v.(string); ok && strings.EqualFold(s, "always") {
			o.SyncInterval = 0
			return
		}
		if d, ok := cp.duration(v); ok {
			o.SyncInterval = d
		}
	},
	"max_memory_store": sizeKey(func(o *Options, n int64) { o.JetStreamMaxMemory = n }),
	"max_file_store":   sizeKey(func(o *Options, n int64) { o.JetStreamMaxFile = n }),
	"domain": func(cp *configParser, o *Options, v cval) {
		s, ok := cp.str(v)
		if !ok {
			return
		}
		if s == "" || strings.ContainsAny(s, " \t\r\n\f.*>") {
			cp.errorf(v, "invalid domain name %q: it may not be empty or contain spaces, '.', '*' or '>'", s)
			return
		}
		o.JetStreamDomain = s
	},
}

// toleratedJetStreamKeys are nats-server's jetstream settings that tune or
// bound its own implementation (queues, clustering, compaction): accepted
// with one warning, since ignoring them changes nothing a client relies on.
var toleratedJetStreamKeys = []string{
	"strict", "unique_tag", "limits", "max_outstanding_catchup", "max_buffered_msgs",
	"max_buffered_size", "request_queue_limit", "info_queue_limit", "meta_compact",
	"meta_compact_size", "meta_compact_sync", "max_concurrent_io", "extension_hint",
}

// encryptionJetStreamKeys ask for encryption at rest, which midge does not
// have: a store written in the clear where encryption was configured must
// not start with only a warning.
var encryptionJetStreamKeys = []string{
	"key", "ek", "encryption_key", "prev_key", "prev_ek", "prev_encryption_key", "cipher", "tpm",
}

func init() {
	// nats-server's aliases; added here so the table stays a literal.
	jetstreamKeys["storedir"] = jetstreamKeys["store_dir"]
	jetstreamKeys["store"] = jetstreamKeys["store_dir"]
	jetstreamKeys["enable"] = jetstreamKeys["enabled"]
	jetstreamKeys["sync"] = jetstreamKeys["sync_interval"]
	jetstreamKeys["max_mem_store"] = jetstreamKeys["max_memory_store"]
	jetstreamKeys["max_mem"] = jetstreamKeys["max_memory_store"]
	jetstreamKeys["max_file"] = jetstreamKeys["max_file_store"]
	for _, k := range toleratedJetStreamKeys {
		jetstreamKeys[k] = func(cp *configParser, _ *Options, v cval) { cp.tolerate(v.path) }
	}
	for _, k := range encryptionJetStreamKeys {
		jetstreamKeys[k] = func(cp *configParser, _ *Options, v cval) {
			cp.errorf(v, "midge does not encrypt its store (nats-server's encryption at rest); remove the key to store in the clear")
		}
	}
}

// sizeKey reads a storage size as nats-server does: an integer (1G is
// 10^9, 1GB 2^30) or a string of digits and one of K, M, G, T, which
// counts in powers of 1024 ("10G" is 10 GiB). -1 means no limit (0).
func sizeKey[T any](set func(*T, int64)) keyHandler[T] {
	return func(cp *configParser, t *T, v cval) {
		if n, ok := cp.size(v); ok {
			set(t, n)
		}
	}
}

func (cp *configParser) size(v cval) (int64, bool) {
	var n int64
	switch x := v.v.(type) {
	case int64:
		n = x
	case string:
		var ok bool
		if n, ok = parseSizeString(x); !ok {
			cp.errorf(v, "expected a size such as 10G, 512MB or 1073741824, got %s", describe(v))
			return 0, false
		}
	default:
		cp.errorf(v, "expected a size such as 10G, 512MB or 1073741824, got %s", describe(v))
		return 0, false
	}
	if n < -1 {
		cp.errorf(v, "a size cannot be negative (-1 means no limit)")
		return 0, false
	}
	return max(n, 0), true
}

// parseSizeString reads "10G": digits, then K, M, G or T in upper case,
// each a power of 1024; "" is 0.
func parseSizeString(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	shift := map[byte]uint{'K': 10, 'M': 20, 'G': 30, 'T': 40}[s[len(s)-1]]
	if shift == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64>>shift {
		return 0, false
	}
	return n << shift, true
}
