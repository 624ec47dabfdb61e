package jscluster

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/midgemq/midge/jetstore"
)

// A binding records, for each stream group this server carries, which
// account and stream it is: the raft host recovers groups by number, and
// the state machine of a group must find its local stream before the meta
// group's state is replayed. It is written (atomically) before the group
// is created or joined, and removed after the group is dropped.

type binding struct {
	Account string                `json:"account"`
	Config  jetstore.StreamConfig `json:"config"`
	Created time.Time             `json:"created"`
}

func (c *Cluster) bindingDir() string { return filepath.Join(c.o.Dir, "bindings") }

func (c *Cluster) bindingPath(gid uint64) string {
	return filepath.Join(c.bindingDir(), strconv.FormatUint(gid, 10)+".json")
}

func (c *Cluster) writeBinding(gid uint64, b binding) error {
	data, err := json.Marshal(b)
	if err != nil {
		return err
	}
	path := c.bindingPath(gid)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(c.bindingDir())
}

func (c *Cluster) readBinding(gid uint64) (binding, error) {
	var b binding
	data, err := os.ReadFile(c.bindingPath(gid))
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return b, fmt.Errorf("binding of group %d: %w", gid, err)
	}
	return b, nil
}

func (c *Cluster) removeBinding(gid uint64) error {
	if err := os.Remove(c.bindingPath(gid)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return syncDir(c.bindingDir())
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
