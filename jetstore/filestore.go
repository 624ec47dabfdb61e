package jetstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"time"
)

// fileStorage keeps a file stream in its directory under the store:
//
//	streams/<name>/meta.json, meta.bak   the configuration, twice
//	streams/<name>/blocks/NNNNNNNN.blk   the log (records: see record.go)
//	streams/<name>/index.db              the indexes of a clean stop
//	streams/<name>/seq.hw                the sequence high-water mark
//	streams/<name>/consumers/<name>/     a durable consumer's state
//
// Every rewrite goes through a temporary file, rename and directory fsync.
type fileStorage struct {
	fs      FS
	log     Logger
	streams string // the store's streams directory
	dir     string // this stream's directory
	hw      highWater
}

func (s *Store) fileStorage(name string) *fileStorage {
	return &fileStorage{fs: s.fs, log: s.log, streams: s.streamsDir(), dir: filepath.Join(s.streamsDir(), name)}
}

func (f *fileStorage) blockDir() string     { return filepath.Join(f.dir, "blocks") }
func (f *fileStorage) consumersDir() string { return filepath.Join(f.dir, "consumers") }
func (f *fileStorage) persistent() bool     { return true }

func (f *fileStorage) create(m streamMeta) error {
	if err := f.fs.MkdirAll(f.blockDir(), 0o755); err != nil {
		return err
	}
	if err := f.saveMeta(m); err != nil {
		return err
	}
	return f.fs.SyncDir(f.streams)
}

func (f *fileStorage) newBlockFile(id uint32) (File, string, error) {
	return createBlockFile(f.fs, f.blockDir(), id)
}

func (f *fileStorage) retire(blocks []*block) {
	if len(blocks) == 0 {
		return
	}
	for _, b := range blocks {
		if b.file != nil {
			b.file.Close()
			if err := f.fs.Remove(b.path); err != nil {
				f.log.Warn("cannot remove emptied block", "file", b.path, "error", err)
			}
		}
	}
	_ = f.fs.SyncDir(f.blockDir())
}

func (f *fileStorage) remove() error {
	if err := f.fs.RemoveAll(f.dir); err != nil {
		return err
	}
	return f.fs.SyncDir(f.streams)
}

func (f *fileStorage) consumerDir(name string) (string, bool) {
	return filepath.Join(f.consumersDir(), name), true
}

func (f *fileStorage) consumerNames() ([]string, error) {
	entries, err := f.fs.ReadDir(f.consumersDir())
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// streamMeta is what a stream's meta file holds.
type streamMeta struct {
	Config  StreamConfig `json:"config"`
	Created time.Time    `json:"created"`
}

// The meta file is written twice, each copy atomically, so that a damaged
// copy never costs the stream its configuration.
const (
	metaFile       = "meta.json"
	metaBackupFile = "meta.bak"
)

// saveMeta stores both copies of the stream's meta file.
func (f *fileStorage) saveMeta(m streamMeta) error {
	data, err := encodeMeta(m)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(f.fs, filepath.Join(f.dir, metaFile), data); err != nil {
		return err
	}
	return writeFileAtomic(f.fs, filepath.Join(f.dir, metaBackupFile), data)
}

// readMeta reads the meta file, falling back to (and repairing from) the
// backup copy.
func (f *fileStorage) readMeta() (streamMeta, error) {
	raw, err := f.fs.ReadFile(filepath.Join(f.dir, metaFile))
	var m streamMeta
	if err == nil {
		if m, err = decodeMeta(raw); err == nil {
			return m, nil
		}
	}
	primaryErr := err
	raw, err = f.fs.ReadFile(filepath.Join(f.dir, metaBackupFile))
	if err != nil {
		return m, fmt.Errorf("%s: %w (no usable backup: %v)", metaFile, primaryErr, err)
	}
	if m, err = decodeMeta(raw); err != nil {
		return m, fmt.Errorf("%s: %w (backup: %v)", metaFile, primaryErr, err)
	}
	f.log.Warn("stream meta file damaged; restored from its backup", "dir", f.dir, "error", primaryErr)
	if err := writeFileAtomic(f.fs, filepath.Join(f.dir, metaFile), raw); err != nil {
		f.log.Warn("cannot repair meta file", "dir", f.dir, "error", err)
	}
	return m, nil
}

// encodeMeta renders the meta file: JSON, a newline, and the JSON's CRC32C
// in hex so that a damaged file is detected rather than misread.
func encodeMeta(m streamMeta) ([]byte, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(js, "\n%08x\n", crc32.Checksum(js, crcTable)), nil
}

func decodeMeta(b []byte) (streamMeta, error) {
	var m streamMeta
	text := strings.TrimRight(string(b), "\n")
	i := strings.LastIndexByte(text, '\n')
	if i < 0 {
		return m, errors.New("meta file has no checksum")
	}
	js, sum := text[:i], text[i+1:]
	if fmt.Sprintf("%08x", crc32.Checksum([]byte(js), crcTable)) != sum {
		return m, errors.New("meta file checksum mismatch")
	}
	err := json.Unmarshal([]byte(js), &m)
	return m, err
}
