package jetstore

import (
	"errors"
	"io/fs"
	"sync"
	"syscall"
)

// faultFS wraps the real filesystem and fails writes or syncs on demand,
// the way a full or failing disk would.
type faultFS struct {
	OSFS
	mu        sync.Mutex
	failWrite error
	failSync  error
}

func (f *faultFS) set(write, sync error) {
	f.mu.Lock()
	f.failWrite, f.failSync = write, sync
	f.mu.Unlock()
}

func (f *faultFS) errs() (error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failWrite, f.failSync
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	file, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *faultFS) SyncDir(dir string) error {
	if _, s := f.errs(); s != nil {
		return s
	}
	return f.OSFS.SyncDir(dir)
}

type faultFile struct {
	File
	fs *faultFS
}

// Write fails after writing half the bytes, as a disk running full does.
func (f *faultFile) Write(b []byte) (int, error) {
	if w, _ := f.fs.errs(); w != nil {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, w
	}
	return f.File.Write(b)
}

func (f *faultFile) Sync() error {
	if _, s := f.fs.errs(); s != nil {
		return s
	}
	return f.File.Sync()
}

var (
	errDiskFull = syscall.ENOSPC
	errIO       = errors.New("injected fsync failure")
)
