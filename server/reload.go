package server

import (
	"sync"
	"time"

	"github.com/midgemq/midge/config"
)

// Live reconfiguration. The options in force sit behind an atomic pointer:
// every reader of a reloadable field calls getOpts and sees either the old
// or the new configuration whole, never a mix, and no lock is added to the
// message path.

// getOpts returns the configuration in force.
func (s *Server) getOpts() *config.Options { return s.cur.Load() }

var reloadMu sync.Mutex // one Reload at a time

// Reload applies newOpts to the running server without dropping any
// connection that the new configuration still accepts: users, permissions
// and accounts change as described in reload_auth.go. It fails, changing
// nothing, when newOpts differs from the configuration in force in a field
// that cannot change live (the listen address, the store directory, ...)
// or is invalid (users naming unknown accounts, a removed account, ...).
// The zero value of a field means its default, as for New. The logger is
// the caller's: its level is the caller's to adjust for Debug and Trace.
func (s *Server) Reload(newOpts config.Options) error {
	reloadMu.Lock()
	defer reloadMu.Unlock()
	newOpts.SetDefaults()
	old := s.getOpts()
	changed, err := config.Diff(old, &newOpts)
	if err == nil {
		err = newOpts.Validate()
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
