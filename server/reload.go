package server

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

// Live reconfiguration. The options in force sit behind an atomic pointer:
// every reader of a reloadable field calls getOpts and sees either the old
// or the new configuration whole, never a mix, and no lock is added to the
// message path.

// getOpts returns the configuration in force.
func (s *Server) getOpts() *Options { return s.cur.Load() }

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
	"WriteDeadline":       "for new connections",
	"PingInterval":        "at each connection's next PING",
	"MaxPingsOut":         "at each connection's next PING",
	"FirstPingDelay":      "for new connections",
	"LameDuckDuration":    "for a lame duck mode entered later",
	"LameDuckGracePeriod": "for a lame duck mode entered later",
	"Auth":                "at once: new connections authenticate against it, connected clients are checked again (reload_auth.go)",
	"Accounts":            "accounts may be added, not removed (reload_auth.go)",
}

// secretOnReload are fields whose values the reload log must not show.
var secretOnReload = map[string]bool{"Auth": true}

// ignoredOnReload are fields that are not configuration in the file sense.
var ignoredOnReload = map[string]bool{"Logger": true, "ConfigWarnings": true}

var reloadMu sync.Mutex // one Reload at a time

// Reload applies newOpts to the running server without dropping any
// connection that the new configuration still accepts: users, permissions
// and accounts change as described in reload_auth.go. It fails, changing
// nothing, when newOpts differs from the configuration in force in a field
// that cannot change live (the listen address, the store directory, ...)
// or is invalid (users naming unknown accounts, a removed account, ...).
// The zero value of a field means its default, as for New. The logger is
// kept: its level is the caller's to adjust for Debug and Trace.
func (s *Server) Reload(newOpts Options) error {
	reloadMu.Lock()
	defer reloadMu.Unlock()
	newOpts.setDefaults()
	old := s.getOpts()
	newOpts.Logger = old.Logger
	changed, err := diffOptions(old, &newOpts)
	if err == nil {
		err = newOpts.validate()
	}
	var sec *securityChange
	if err == nil {
		sec, err = s.prepareSecurity(old, &newOpts)
	}
	if err == nil && sec != nil {
		err = s.enableAddedJetStream(sec)
	}
	if err != nil {
		s.log.Error("configuration not reloaded; keeping the one in force", "error", err)
		return err
	}
	s.cur.Store(&newOpts)
	if sec != nil {
		s.installSecurity(sec)
	}
	s.mon.configLoaded.Store(time.Now().UnixNano())
	if len(changed) == 0 {
		s.log.Info("configuration reloaded, nothing changed")
		return nil
	}
	s.log.Info("configuration reloaded", "changed", changed)
	return nil
}

// diffOptions names the fields that differ between old and next, or fails
// on the first one that cannot change live.
func diffOptions(old, next *Options) ([]string, error) {
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
