package jetstore

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the filesystem the store writes through. Production uses OSFS;
// tests substitute implementations that fail writes or syncs on demand, so
// that the store's error paths run without a broken disk.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	ReadFile(name string) ([]byte, error)
	MkdirAll(dir string, perm fs.FileMode) error
	ReadDir(dir string) ([]fs.DirEntry, error)
	Rename(from, to string) error
	Remove(name string) error
	RemoveAll(dir string) error
	Stat(name string) (fs.FileInfo, error)
	// SyncDir makes a directory's entries (creates, renames, removes) durable.
	SyncDir(dir string) error
}

// File is an open file of an FS.
type File interface {
	io.Writer
	io.ReaderAt
	Sync() error
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Close() error
}

// OSFS is the real filesystem.
type OSFS struct{}

func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	return os.OpenFile(name, flag, perm)
}
func (OSFS) ReadFile(name string) ([]byte, error)        { return os.ReadFile(name) }
func (OSFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }
func (OSFS) ReadDir(dir string) ([]fs.DirEntry, error)   { return os.ReadDir(dir) }
func (OSFS) Rename(from, to string) error                { return os.Rename(from, to) }
func (OSFS) Remove(name string) error                    { return os.Remove(name) }
func (OSFS) RemoveAll(dir string) error                  { return os.RemoveAll(dir) }
func (OSFS) Stat(name string) (fs.FileInfo, error)       { return os.Stat(name) }

func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	serr := d.Sync()
	cerr := d.Close()
	return errors.Join(serr, cerr)
}

// writeFileAtomic replaces name with data so that a crash leaves either the
// old or the new content: write a temporary file, fsync it, rename it over
// the old one, fsync the directory.
func writeFileAtomic(fsys FS, name string, data []byte) error {
	tmp := name + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
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
	if err := fsys.Rename(tmp, name); err != nil {
		return err
	}
	return fsys.SyncDir(filepath.Dir(name))
}
