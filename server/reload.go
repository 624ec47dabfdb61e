package server

import (
	"sync"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/jetstore"
)

// Live reconfiguration: the options in force sit behind the broker's one
// atomic pointer; a reload swaps them whole, so every reader sees the old
// or the new configuration, never a mix, and no lock is added to the
// message path. Which options may change is config's reload table.

var reloadMu sync.Mutex // one Reload at a time

// Reload applies newOpts to the running server without dropping any
// connection that the new configuration still accepts: users, permissions
// and accounts change as the broker describes for its reload. It fails, changing
// nothing, when newOpts differs from the configuration in force in a field
// that cannot change live (the listen address, the store directory, ...)
// or is invalid (users naming unknown accounts, a removed account, ...).
// The zero value of a field means its default, as for New. The logger is
// the caller's: its level is the caller's to adjust for Debug and Trace.
func (s *Server) Reload(newOpts config.Options) error {
	reloadMu.Lock()
	defer reloadMu.Unlock()
	newOpts.SetDefaults()
	changed, err := config.Diff(s.Options(), &newOpts)
	if err == nil {
		err = newOpts.Validate()
	}
	var sec *broker.SecurityChange
	if err == nil {
		sec, err = s.broker.PrepareReload(&newOpts)
	}
	if err == nil && sec != nil {
		err = s.enableAddedJetStream(sec, &newOpts)
	}
	if err != nil {
		s.log.Error("configuration not reloaded; keeping the one in force", "error", err)
		return err
	}
	s.broker.ApplyReload(&newOpts, sec)
	s.mon.Reloaded()
	if len(changed) == 0 {
		s.log.Info("configuration reloaded, nothing changed")
		return nil
	}
	s.log.Info("configuration reloaded", "changed", changed)
	return nil
}

// enableAddedJetStream gives the added accounts their JetStream namespace
// when the server runs JetStream (a server not started yet does it in
// Start). On failure the ones enabled are closed again and nothing is
// installed.
func (s *Server) enableAddedJetStream(ch *broker.SecurityChange, next *config.Options) error {
	if !s.Options().JetStream || !s.started.Load() {
		return nil
	}
	account := func(name string) (jetstore.Limits, bool) { return jetStreamLimits(next, name) }
	for i, acc := range ch.Added {
		if err := s.js.EnableWith(acc, account); err != nil {
			for _, done := range ch.Added[:i] {
				s.js.Disable(done)
			}
			return err
		}
	}
	return nil
}
