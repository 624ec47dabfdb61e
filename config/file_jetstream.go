package config

import "strings"

// The jetstream block of the configuration file, as nats-server spells it:
// `jetstream: enabled`, `jetstream: true`, or
// `jetstream { store_dir: "/data", sync_interval: always }`.

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
			cp.errorf(v, "jetstream: want enabled, disabled or a block, got %q", x)
		}
	default:
		if m, ok := cp.mapValue(v, "jetstream"); ok {
			o.JetStream = true
			applySection(cp, o, m, jetstreamKeys, "jetstream")
		}
	}
}

var jetstreamKeys = map[string]keyHandler[Options]{
	"store_dir": strKey(func(o *Options) *string { return &o.StoreDir }),
	"storedir":  strKey(func(o *Options) *string { return &o.StoreDir }),
	"enabled":   boolKey(func(o *Options) *bool { return &o.JetStream }),
	"sync_interval": func(cp *configParser, o *Options, v cval) {
		if s, ok := v.v.(string); ok && strings.EqualFold(s, "always") {
			o.SyncInterval = 0
			return
		}
		if d, ok := cp.duration(v); ok {
			if d <= 0 {
				cp.errorf(v, "sync_interval must be \"always\" or a positive duration")
				return
			}
			o.SyncInterval = d
		}
	},
}
