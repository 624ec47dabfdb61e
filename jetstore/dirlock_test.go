package jetstore

import (
	"errors"
	"os"
	"testing"
)

func TestLockDirIsExclusiveAndNamesTheHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir) // a second open file description conflicts, even in one process
	var inUse *StoreInUseError
	if !errors.As(err, &inUse) || !errors.Is(err, ErrStoreInUse) || inUse.PID != os.Getpid() || inUse.Dir != dir {
		t.Fatalf("second lock: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}
