package multiraft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// A group's snapshot file says the replica exists and holds its latest
// durable snapshot:
//
//	magic "MRSNAP01", CRC-32C of the rest u32, length of the rest u32,
//	index u64, term u64, ConfState length u32, ConfState (protobuf), data
//
// It is replaced atomically (temporary file, fsync, rename, directory
// fsync). A joining replica's first file has index 0 and an empty ConfState.

const snapMagic = "MRSNAP01"

func snapName(dir string, g GroupID) string {
	return filepath.Join(dir, fmt.Sprintf("%016x.snap", g))
}

func encodeSnapshot(s *pb.Snapshot) ([]byte, error) {
	cs, err := proto.Marshal(pb.EnsureSnapshotMetadata(s.GetMetadata()).GetConfState())
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16, 16+24+len(cs)+len(s.GetData()))
	copy(b, snapMagic)
	b = binary.LittleEndian.AppendUint64(b, s.GetMetadata().GetIndex())
	b = binary.LittleEndian.AppendUint64(b, s.GetMetadata().GetTerm())
	b = binary.LittleEndian.AppendUint32(b, uint32(len(cs)))
	b = append(b, cs...)
	b = append(b, s.GetData()...)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[16:], crcTable))
	binary.LittleEndian.PutUint32(b[12:], uint32(len(b)-16))
	return b, nil
}

func decodeSnapshot(b []byte) (*pb.Snapshot, error) {
	if len(b) < 16 || !bytes.Equal(b[:8], []byte(snapMagic)) {
		return nil, errors.New("not a snapshot file")
	}
	rest := b[16:]
	if int(binary.LittleEndian.Uint32(b[12:])) != len(rest) {
		return nil, errors.New("snapshot file has the wrong length")
	}
	if crc32.Checksum(rest, crcTable) != binary.LittleEndian.Uint32(b[8:]) {
		return nil, errBadChecksum
	}
	if len(rest) < 20 {
		return nil, errors.New("snapshot file too short")
	}
	index := binary.LittleEndian.Uint64(rest)
	term := binary.LittleEndian.Uint64(rest[8:])
	n := int(binary.LittleEndian.Uint32(rest[16:]))
	if n > len(rest)-20 {
		return nil, errors.New("snapshot ConfState runs past the end")
	}
	cs := &pb.ConfState{}
	if err := proto.Unmarshal(rest[20:20+n], cs); err != nil {
		return nil, fmt.Errorf("snapshot ConfState: %w", err)
	}
	return &pb.Snapshot{
		Metadata: &pb.SnapshotMetadata{Index: new(index), Term: new(term), ConfState: cs},
		Data:     bytes.Clone(rest[20+n:]),
	}, nil
}

func writeSnapshotFile(fsys FS, dir string, g GroupID, s *pb.Snapshot) error {
	b, err := encodeSnapshot(s)
	if err != nil {
		return fmt.Errorf("multiraft: group %d: encode snapshot: %w", g, err)
	}
	if err := writeFileAtomic(fsys, snapName(dir, g), b); err != nil {
		return fmt.Errorf("multiraft: group %d: write snapshot: %w", g, err)
	}
	return nil
}

// listSnapshotGroups returns the groups that have a snapshot file.
func listSnapshotGroups(fsys FS, dir string) ([]GroupID, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []GroupID
	for _, n := range names {
		if !strings.HasSuffix(n, ".snap") {
			continue
		}
		g, err := strconv.ParseUint(strings.TrimSuffix(n, ".snap"), 16, 64)
		if err == nil && g != 0 {
			out = append(out, g)
		}
	}
	return out, nil
}

// The damaged file lists, one decimal ID a line, the groups whose replica
// failed verification; they stay out of service across restarts until the
// caller drops them. Losing the verdict could let a replica that lost
// acknowledged entries vote again.
const damagedFile = "damaged"

func readDamaged(fsys FS, dir string) (map[GroupID]bool, error) {
	out := make(map[GroupID]bool)
	b, err := fsys.ReadFile(filepath.Join(dir, damagedFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return out, nil
		}
		return nil, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		g, err := strconv.ParseUint(line, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("multiraft: damaged list: %w", err)
		}
		out[g] = true
	}
	return out, nil
}

func writeDamaged(fsys FS, dir string, set map[GroupID]bool) error {
	ids := make([]GroupID, 0, len(set))
	for g := range set {
		ids = append(ids, g)
	}
	slices.Sort(ids)
	var b []byte
	for _, g := range ids {
		b = strconv.AppendUint(b, g, 10)
		b = append(b, '\n')
	}
	return writeFileAtomic(fsys, filepath.Join(dir, damagedFile), b)
}
