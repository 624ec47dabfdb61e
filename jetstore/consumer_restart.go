package jetstore

import (
	"encoding/json"
	"os"
	"path/filepath"
)

// A consumer that asked for memory storage writes nothing while it runs.
// When the store closes (a clean shutdown) it saves its configuration and
// a snapshot of its state like a file consumer, and the next start loads
// them and removes them again, so that it survives a restart but a crash
// never resurrects a stale copy. This is what lets the ordered consumers
// of clients (KV watchers, ordered push subscriptions), which ask for
// memory storage, carry on after a restart without missing heartbeats:
// deliveries continue with the sequences they expect.

// saveForRestart writes a stopped memory-storage consumer to its stream's
// storage, if that keeps consumer state.
func (c *Consumer) saveForRestart() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil || !c.cfg.MemoryStorage {
		return
	}
	dir, ok := c.st.storage.consumerDir(c.name)
	if !ok {
		return
	}
	if err := c.saveToDirLocked(dir); err != nil {
		c.st.store.log.Warn("memory consumer not saved for the restart", "stream", c.st.Name(),
			"consumer", c.name, "error", err)
		_ = c.st.store.fs.RemoveAll(dir)
	}
}

// saveToDirLocked writes config and state of a memory consumer into dir.
func (c *Consumer) saveToDirLocked(dir string) error {
	fsys := c.st.store.fs
	if err := fsys.RemoveAll(dir); err != nil {
		return err
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	meta, err := json.Marshal(consumerMeta{Config: c.cfg, Created: c.created})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(fsys, filepath.Join(dir, metaFile), meta); err != nil {
		return err
	}
	// The state goes in as the snapshot of an empty log.
	f, err := fsys.OpenFile(filepath.Join(dir, consumerLogFile), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	c.log = &consumerLog{fsys: fsys, dir: dir, file: f}
	err = c.snapshotLocked()
	c.log.close()
	c.log = nil
	return err
}

// loadSaved loads what a memory-storage consumer saved when the store
// closed, then removes it. Without a saved state it does nothing.
func (c *Consumer) loadSaved() error {
	dir, ok := c.st.storage.consumerDir(c.name)
	if !ok {
		return nil
	}
	c.mu.Lock()
	err := c.openConsumerLog(dir)
	if c.log != nil {
		c.log.close()
		c.log = nil
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.st.store.fs.RemoveAll(dir)
}
