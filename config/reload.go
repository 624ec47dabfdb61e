package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Live reconfiguration: which options a running server may change and when
// the change takes effect. The server reads the options in force through one
// atomic pointer, so a reload swaps them whole.

// reloadable lists the Options fields Reload may change and when the change
// takes effect. Any other field that differs makes Reload fail, so a
// field added later is refused until someone decides how it applies live.
var reloadable = map[string]string{
	"Debug":               "at once",
	"Trace":               "at once, on every connection's next read",
	"MaxConnections":      "for new connections",
	"MaxPayload":          "for new connections (announced in their INFO)",
	"MaxControlLine":      "for new connections",
	"MaxPending":          "for new connections",
	"MaxOutboundMemory":   "at once",
	"WriteDeadline":       "for new connections",
	"PingInterval":        "at each connection's next PING",
	"MaxPingsOut":         "at each connection's next PING",
	"FirstPingDelay":      "for new connections",
	"LameDuckDuration":    "for a lame duck mode entered later",
	"LameDuckGracePeriod": "for a lame duck mode entered later",
	"Auth":                "at once: new connections authenticate against it, connected clients are checked again",
	"Accounts":            "accounts may be added, not removed",
}

// secretOnReload are fields whose values the reload log must not show.
var secretOnReload = map[string]bool{"Auth": true}

// ignoredOnReload are fields that are not configuration in the file sense.
var ignoredOnReload = map[string]bool{"ConfigWarnings": true}

// Diff names the fields that differ between old and next, with their new
// values (secrets only by name), or fails naming every field that cannot
// change live.
func Diff(old, next *Options) ([]string, error) {
	ov, nv := reflect.ValueOf(old).Elem(), reflect.ValueOf(next).Elem()
	var changed, refused []string
	for i := 0; i < ov.NumField(); i++ {
		name := ov.Type().Field(i).Name
		if ignoredOnReload[name] || reflect.DeepEqual(ov.Field(i).Interface(), nv.Field(i).Interface()) {
			continue
		}
		if _, ok := reloadable[name]; !ok {
			refused = append(refused, name)
			continue
		}
		if secretOnReload[name] {
			changed = append(changed, name)
			continue
		}
		changed = append(changed, fmt.Sprintf("%s=%v", name, nv.Field(i).Interface()))
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("config reload not supported for %s", strings.Join(refused, ", "))
	}
	return changed, nil
}
