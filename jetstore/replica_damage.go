package jetstore

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// Damage found by recovery, for the replication layer: a replica whose
// blocks lost data that a crash cannot explain must be rebuilt from its
// peers rather than serve with a hole. Recovery itself still keeps what it
// can and deletes nothing (recovery.go).

// recoveryNote is one thing recovery cut or skipped.
type recoveryNote struct {
	block    uint32
	cut      bool // a tail cut off (else a damaged range skipped)
	from, to int
}

func (st *Stream) noteSkippedLocked(b *block, from, to int) {
	st.damage = append(st.damage, recoveryNote{block: b.id, from: from, to: to})
}

func (st *Stream) noteCutLocked(b *block, kept, size int) {
	st.damage = append(st.damage, recoveryNote{block: b.id, cut: true, from: kept, to: size})
}

// ErrRecoveryDamage wraps what RecoveryDamage reports.
var ErrRecoveryDamage = errors.New("stream blocks damaged")

// RecoveryDamage reports what the last load of the stream found that a
// crash does not explain: a damaged record with intact records after it,
// or a block other than the newest one cut short. A torn tail of the
// newest block (writes a crash interrupted before their fsync) is not
// damage.
func (st *Stream) RecoveryDamage() error {
	st.mu.RLock()
	defer st.mu.RUnlock()
	var newest uint32
	if n := len(st.blocks); n > 0 {
		newest = st.blocks[n-1].id
	}
	for _, d := range st.damage {
		if !d.cut {
			return fmt.Errorf("%w: block %d: bytes %d-%d failed their checksum", ErrRecoveryDamage, d.block, d.from, d.to)
		}
		if d.block != newest {
			return fmt.Errorf("%w: block %d: lost bytes %d-%d of a block that was complete", ErrRecoveryDamage, d.block, d.from, d.to)
		}
	}
	return nil
}

// Quarantine takes a stream out of the store without deleting anything:
// it stops, and its directory moves to the store's quarantine directory
// (the replication layer rebuilds a damaged replica from its peers in a
// fresh one). It returns where the data went ("" for a memory stream).
func (s *Store) Quarantine(name string) (string, error) {
	s.mu.Lock()
	st, ok := s.streams[name]
	if ok {
		delete(s.streams, name)
	}
	s.mu.Unlock()
	if !ok {
		return "", ErrStreamNotFound
	}
	st.stopConsumers(0, true)
	_ = st.stop()
	fsto, ok := st.storage.(*fileStorage)
	if !ok {
		return "", nil
	}
	qdir := filepath.Join(s.dir, "quarantine")
	if err := s.fs.MkdirAll(qdir, 0o755); err != nil {
		return "", errStorage(err)
	}
	dst := filepath.Join(qdir, name+"."+strconv.FormatInt(time.Now().UnixNano(), 10))
	if err := s.fs.Rename(fsto.dir, dst); err != nil {
		return "", errStorage(err)
	}
	if err := s.fs.SyncDir(qdir); err != nil {
		return dst, errStorage(err)
	}
	return dst, errStorageOrNil(s.fs.SyncDir(s.streamsDir()))
}

func errStorageOrNil(err error) error {
	if err == nil {
		return nil
	}
	return errStorage(err)
}
