package jetstore

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/s2"
)

// blockKinds lists the record kinds in a stream's block files.
func blockKinds(t *testing.T, dir, stream string) map[byte]int {
	t.Helper()
	kinds := map[byte]int{}
	blocks, _ := filepath.Glob(filepath.Join(dir, "streams", stream, "blocks", "*.blk"))
	for _, path := range blocks {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for off := 0; off < len(data); {
			_, n, err := decodeRecord(data[off:])
			if err != nil {
				t.Fatalf("%s at %d: %v", path, off, err)
			}
			kinds[data[off+4]]++
			off += n
		}
	}
	return kinds
}

func storeBytes(t *testing.T, dir, stream string) int64 {
	t.Helper()
	var total int64
	blocks, _ := filepath.Glob(filepath.Join(dir, "streams", stream, "blocks", "*.blk"))
	for _, path := range blocks {
		fi, _ := os.Stat(path)
		total += fi.Size()
	}
	return total
}

// A compressed stream stores compressible data in s2 records, reads it
// back exactly (also after a restart, with or without the index) and
// accounts messages by their real size; small or incompressible data is
// stored plain.
func TestCompressedStream(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	z := mustAdd(t, s, StreamConfig{Name: "Z", Subjects: []string{"z"}, Compression: "s2"})
	plain := mustAdd(t, s, StreamConfig{Name: "P", Subjects: []string{"p"}})
	big := bytes.Repeat([]byte("compress me "), 400) // 4.8 kB
	random := make([]byte, 1000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for i := 0; i < 20; i++ {
		publish(t, s, z, "z", []byte("NATS/1.0\r\nK: v\r\n\r\n"), big)
		publish(t, s, plain, "p", []byte("NATS/1.0\r\nK: v\r\n\r\n"), big)
	}
	publish(t, s, z, "z", nil, []byte("tiny"))
	publish(t, s, z, "z", nil, random)
	if zs, ps := z.State("", false), plain.State("", false); zs.Bytes != ps.Bytes+msgSize([]byte("z"), nil, []byte("tiny"))+msgSize([]byte("z"), nil, random) {
		t.Fatalf("accounting differs: compressed %d, plain %d", zs.Bytes, ps.Bytes)
	}
	check := func(st *Stream) {
		t.Helper()
		for seq := uint64(1); seq <= 20; seq++ {
			m, err := st.Get(seq)
			if err != nil || !bytes.Equal(m.Data, big) || string(m.Header) != "NATS/1.0\r\nK: v\r\n\r\n" {
				t.Fatalf("seq %d: %v", seq, err)
			}
		}
		if m, _ := st.Get(21); string(m.Data) != "tiny" {
			t.Fatalf("small message %q", m.Data)
		}
		if m, _ := st.Get(22); !bytes.Equal(m.Data, random) {
			t.Fatal("incompressible message differs")
		}
	}
	check(z)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if zb, pb := storeBytes(t, dir, "Z"), storeBytes(t, dir, "P"); zb*5 > pb {
		t.Fatalf("compressed stream takes %d bytes on disk, the plain one %d", zb, pb)
	}
	if k := blockKinds(t, dir, "Z"); k[kindMsgS2] != 20 || k[kindMsg] != 2 {
		t.Fatalf("record kinds of the compressed stream %v", k)
	}
	if k := blockKinds(t, dir, "P"); k[kindMsgS2] != 0 {
		t.Fatalf("a stream without compression wrote compressed records: %v", k)
	}
	s2 := openTestStore(t, dir) // with the index of the clean stop
	z2, _ := s2.Stream("Z")
	check(z2)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	removeIndexFiles(dir)
	s3 := openTestStore(t, dir) // rebuilt from the blocks
	z3, _ := s3.Stream("Z")
	check(z3)

	// Switching compression off writes plain records from then on.
	cfg := z3.Config()
	cfg.Compression = "none"
	if _, err := s3.UpdateStream(cfg); err != nil {
		t.Fatal(err)
	}
	publish(t, s3, z3, "z", nil, big)
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	if k := blockKinds(t, dir, "Z"); k[kindMsgS2] != 20 || k[kindMsg] != 3 {
		t.Fatalf("after switching compression off %v", k)
	}
}

// A compressed record whose checksum holds but whose data is not valid s2
// is damaged: decoding refuses it instead of returning garbage.
func TestCompressedRecordThatDoesNotDecompressIsDamaged(t *testing.T) {
	bad := appendMsgRecordOf(nil, kindMsgS2, 1, 2, "z", nil, []byte("this is not s2 data"))
	if _, _, err := decodeRecord(bad); err == nil {
		t.Fatal("decoded a compressed record with invalid data")
	}
	good := appendMsgRecordOf(nil, kindMsgS2, 1, 2, "z", nil, s2.Encode(nil, []byte("hello hello hello")))
	rec, _, err := decodeRecord(good)
	if err != nil || string(rec.data) != "hello hello hello" || rec.kind != kindMsg {
		t.Fatalf("valid compressed record: %v %q", err, rec.data)
	}
}
