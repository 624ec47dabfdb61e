package jetstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Two processes writing one store would both hand out the same sequences
// into the same block files. A process using a store directory holds an
// exclusive flock on a lock file in it for as long as it runs; the kernel
// drops the lock when the process dies, however it dies, so a crash never
// leaves the directory locked. The file holds the owner's process id for
// the message the next process shows.

// LockFile is the name of the lock file in a store directory.
const LockFile = "midge.lock"

// ErrStoreInUse is returned (wrapped in a StoreInUseError) when another
// process holds the store directory's lock.
var ErrStoreInUse = errors.New("store directory is in use")

// StoreInUseError names the directory and, when it could be read, the
// process holding it.
type StoreInUseError struct {
	Dir string
	PID int // 0 when unknown
}

func (e *StoreInUseError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("store directory %s is in use by process %d", e.Dir, e.PID)
	}
	return fmt.Sprintf("store directory %s is in use by another process", e.Dir)
}

func (e *StoreInUseError) Unwrap() error { return ErrStoreInUse }

// DirLock is a held store directory lock.
type DirLock struct{ f *os.File }

// LockDir takes the lock of the store directory dir (created if needed)
// without waiting: another holder is a StoreInUseError.
func LockDir(dir string) (*DirLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating store directory: %w", err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the store lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &StoreInUseError{Dir: dir, PID: lockOwner(path)}
		}
		return nil, fmt.Errorf("locking the store directory %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DirLock{f: f}, nil
}

// lockOwner reads the process id a lock file names, or 0.
func lockOwner(path string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0
	}
	return pid
}

// Unlock releases the lock; the file stays (removing it could race with
// the next owner's open).
func (l *DirLock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the descriptor releases the flock
	l.f = nil
	return err
}
