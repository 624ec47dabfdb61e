package broker

import (
	"encoding/json"
	"fmt"

	"github.com/midgemq/midge/parser"
)

// connectFields is the CONNECT JSON as clients send it. Booleans are
// pointers because an absent field has a default of its own: a telnet user
// who sends `CONNECT {}` gets verbose and pedantic mode, as the reference
// server gives them.
type connectFields struct {
	Verbose      *bool  `json:"verbose"`
	Pedantic     *bool  `json:"pedantic"`
	Echo         *bool  `json:"echo"`
	Headers      *bool  `json:"headers"`
	NoResponders *bool  `json:"no_responders"`
	Protocol     int    `json:"protocol"`
	Name         string `json:"name"`
	Lang         string `json:"lang"`
	Version      string `json:"version"`
	TLSRequired  bool   `json:"tls_required"`
	User         string `json:"user"`
	Pass         string `json:"pass"`
	AuthToken    string `json:"auth_token"`
	Nkey         string `json:"nkey"`
	Sig          string `json:"sig"`
	JWT          string `json:"jwt"`
}

// clientOptions are the negotiated per-connection settings.
type clientOptions struct {
	verbose      bool
	pedantic     bool
	echo         bool
	headers      bool
	noResponders bool
	protocol     int
	name         string
	lang         string
	version      string
}

// defaultClientOptions apply before CONNECT and to fields CONNECT leaves out.
func defaultClientOptions() clientOptions {
	return clientOptions{verbose: true, pedantic: true, echo: true}
}

// Wire errors of CONNECT; both close the connection.
var (
	errInvalidProtocol   = &parser.WireError{Text: "invalid client protocol"}
	errNoRespondersNoHdr = &parser.WireError{Text: "no responders requires headers support"}
)

// parseConnect decodes and validates a CONNECT argument.
func parseConnect(arg []byte) (connectFields, clientOptions, error) {
	var f connectFields
	if err := json.Unmarshal(arg, &f); err != nil {
		return f, clientOptions{}, fmt.Errorf("bad CONNECT JSON: %w", err)
	}
	o := defaultClientOptions()
	setBool(&o.verbose, f.Verbose)
	setBool(&o.pedantic, f.Pedantic)
	setBool(&o.echo, f.Echo)
	setBool(&o.headers, f.Headers)
	setBool(&o.noResponders, f.NoResponders)
	o.protocol, o.name, o.lang, o.version = f.Protocol, f.Name, f.Lang, f.Version
	if o.protocol < 0 || o.protocol > 1 {
		return f, o, errInvalidProtocol
	}
	if o.noResponders && !o.headers {
		return f, o, errNoRespondersNoHdr
	}
	return f, o, nil
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}
