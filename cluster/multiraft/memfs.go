package multiraft

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// MemFS is an in-memory FS that models what a crash does to a disk: file
// contents written since the last Sync, and directory entries (creates,
// renames, removes) made since the last SyncDir, are lost by Crash. It can
// also fail writes or syncs on demand and flip or cut bytes of durable data,
// the way a failing disk would. It is safe for concurrent use.
type MemFS struct {
	mu        sync.Mutex
	dirs      map[string]*memDir
	failSync  error
	failWrite error
}

type memDir struct {
	live    map[string]*memNode // what a reader sees now
	durable map[string]*memNode // what survives a crash
}

type memNode struct {
	data   []byte // what a reader sees now
	synced []byte // what survives a crash
}

// NewMemFS returns an empty in-memory filesystem.
func NewMemFS() *MemFS { return &MemFS{dirs: make(map[string]*memDir)} }

var errMemNotExist = &fs.PathError{Op: "open", Err: fs.ErrNotExist}

// SetFaults makes every later Write fail with write and every later Sync
// or SyncDir fail with sync (nil clears a fault).
func (m *MemFS) SetFaults(write, sync error) {
	m.mu.Lock()
	m.failWrite, m.failSync = write, sync
	m.mu.Unlock()
}

// Crash drops everything that was not made durable: unsynced file bytes and
// unsynced directory changes. Open files keep working on the surviving data.
func (m *MemFS) Crash() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.dirs {
		d.live = make(map[string]*memNode, len(d.durable))
		for name, n := range d.durable {
			n.data = append([]byte(nil), n.synced...)
			d.live[name] = n
		}
	}
}

// CorruptDurable flips one bit at offset off of name's durable content (and
// of what a reader sees), as a bad sector would.
func (m *MemFS) CorruptDurable(name string, off int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.node(name)
	if n == nil || off >= len(n.synced) || off >= len(n.data) {
		return errMemNotExist
	}
	n.synced[off] ^= 0x10
	n.data[off] ^= 0x10
	return nil
}

// TruncateDurable cuts name's durable content to size, as a disk that lost
// synced data would.
func (m *MemFS) TruncateDurable(name string, size int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.node(name)
	if n == nil || size > len(n.synced) {
		return errMemNotExist
	}
	n.synced = n.synced[:size]
	n.data = append([]byte(nil), n.synced...)
	return nil
}

// Size reports the current length of a file.
func (m *MemFS) Size(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.node(name); n != nil {
		return len(n.data)
	}
	return -1
}

func (m *MemFS) node(name string) *memNode {
	d := m.dirs[filepath.Dir(name)]
	if d == nil {
		return nil
	}
	return d.live[filepath.Base(name)]
}

// OpenFile opens or creates a file. O_APPEND is implied for writes.
func (m *MemFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dirs[filepath.Dir(name)]
	if d == nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	base := filepath.Base(name)
	n := d.live[base]
	if n == nil {
		if flag&os.O_CREATE == 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		n = &memNode{}
		d.live[base] = n
	}
	if flag&os.O_TRUNC != 0 {
		n.data = nil
	}
	return &memFile{fs: m, n: n}, nil
}

// ReadFile returns a copy of a file's current content.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.node(name)
	if n == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), n.data...), nil
}

// MkdirAll creates a directory; directories themselves are always durable
// (the model only loses entries inside them).
func (m *MemFS) MkdirAll(dir string, _ fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if m.dirs[dir] == nil {
		m.dirs[dir] = &memDir{live: map[string]*memNode{}, durable: map[string]*memNode{}}
	}
	return nil
}

// ReadDir lists the current names in dir, sorted.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dirs[filepath.Clean(dir)]
	if d == nil {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	names := make([]string, 0, len(d.live))
	for name := range d.live {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// Rename moves a file within the filesystem.
func (m *MemFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	fd, td := m.dirs[filepath.Dir(from)], m.dirs[filepath.Dir(to)]
	if fd == nil || td == nil || fd.live[filepath.Base(from)] == nil {
		return &fs.PathError{Op: "rename", Path: from, Err: fs.ErrNotExist}
	}
	td.live[filepath.Base(to)] = fd.live[filepath.Base(from)]
	delete(fd.live, filepath.Base(from))
	return nil
}

// Remove deletes a file.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.dirs[filepath.Dir(name)]
	if d == nil || d.live[filepath.Base(name)] == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.live, filepath.Base(name))
	return nil
}

// SyncDir makes dir's current entries the ones that survive a crash.
func (m *MemFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSync != nil {
		return m.failSync
	}
	d := m.dirs[filepath.Clean(dir)]
	if d == nil {
		return &fs.PathError{Op: "syncdir", Path: dir, Err: fs.ErrNotExist}
	}
	d.durable = make(map[string]*memNode, len(d.live))
	for name, n := range d.live {
		d.durable[name] = n
	}
	return nil
}

type memFile struct {
	fs     *MemFS
	n      *memNode
	closed bool
}

var errClosed = errors.New("memfs: file closed")

// Write appends b; with a write fault it appends half of b and fails, as a
// disk running full does.
func (f *memFile) Write(b []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return 0, errClosed
	}
	if f.fs.failWrite != nil {
		f.n.data = append(f.n.data, b[:len(b)/2]...)
		return len(b) / 2, f.fs.failWrite
	}
	f.n.data = append(f.n.data, b...)
	return len(b), nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return errClosed
	}
	if f.fs.failSync != nil {
		return f.fs.failSync
	}
	f.n.synced = append(f.n.synced[:0], f.n.data...)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return errClosed
	}
	if int(size) < len(f.n.data) {
		f.n.data = f.n.data[:size]
	}
	return nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	f.closed = true
	return nil
}
