package config

import (
	"fmt"
	"strings"
)

// Keys that test harnesses and orchestrators write into every nats-server
// configuration although midge has no such feature yet. They are accepted
// with one warning naming them, so that such tools can start midge; every
// other unknown key stays an error.
var toleratedHarnessKeys = map[string]bool{
	"server_tags": true,
	"leafnodes":   true,
	"leaf":        true,
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
	o.ConfigWarnings = append(o.ConfigWarnings, fmt.Sprintf(
		"%s: ignoring nats-server options midge does not implement yet: %s",
		cp.file, strings.Join(cp.tolerated, ", ")))
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
