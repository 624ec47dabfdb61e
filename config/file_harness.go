package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Keys that test harnesses and orchestrators write into every nats-server
// configuration although midge has no such feature yet, and nats-server
// keys that only tune logging, profiling, tracing or internals. They are
// accepted with one warning naming them, so that such configurations can
// start midge; every other unknown key stays an error.
var toleratedHarnessKeys = map[string]bool{
	"server_metadata": true,
	"leafnodes":       true, "leaf": true, "client_advertise": true,
	"system_account": true, "system": true, "no_system_account": true, "no_system": true, "no_sys_acc": true,
	"logfile_size_limit": true, "log_size_limit": true,
	"logfile_max_num": true, "log_max_num": true, "trace_verbose": true, "trace_headers": true,
	"max_traced_msg_len": true, "connect_error_reports": true, "reconnect_error_reports": true,
	"prof_block_rate": true, "disable_sublist_cache": true, "no_sublist_cache": true,
	"write_timeout": true, "max_sub_tokens": true, "max_subscription_tokens": true,
	"no_fast_producer_stall": true, "feature_flags": true, "default_js_domain": true,
}

// tolerate records a tolerated key; finishWarnings turns them into one
// warning.
func (cp *configParser) tolerate(k string) {
	cp.tolerated = append(cp.tolerated, k)
}

func (cp *configParser) finishWarnings(o *Options) {
	if len(cp.tolerated) == 0 {
		return
	}
	sort.Strings(cp.tolerated)
	o.ConfigWarnings = append(o.ConfigWarnings, fmt.Sprintf(
		"%s: ignoring nats-server options midge does not implement yet: %s",
		cp.file, strings.Join(slices.Compact(cp.tolerated), ", ")))
}

// httpKey reads nats-server's monitoring listener: `http: 8222`,
// `http: "127.0.0.1:8222"`, with -1 for any free port.
func httpKey(cp *configParser, o *Options, v cval) {
	host, port, ok := cp.hostPort(v)
	if !ok {
		return
	}
	if host != "" {
		o.HTTPHost = host
	}
	o.HTTPPort = port
}

// clientPortKey reads `port`, where -1 means any free port.
func clientPortKey(cp *configParser, o *Options, v cval) {
	n, ok := cp.integer(v, -1, 65535)
	if !ok {
		return
	}
	o.Port = int(n)
}
