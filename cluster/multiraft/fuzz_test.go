package multiraft

import (
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

// FuzzDecodeFrame feeds the frame decoder arbitrary bytes: it must never
// panic, and what it accepts must re-encode to the same items.
func FuzzDecodeFrame(f *testing.F) {
	var b frameBuilder
	b.addRaft(7, &pb.Message{Type: pb.MsgApp.Enum(), To: new(uint64(2)), From: new(uint64(1)), Term: new(uint64(3)),
		Entries: []*pb.Entry{entry(3, 10, "hello")}})
	b.addQuiesce(8, 3, 10)
	f.Add(b.frame(1))
	f.Add(heartbeatFrame(2))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		from, items, err := decodeFrame(data)
		if err != nil {
			return
		}
		var re frameBuilder
		for _, it := range items {
			if it.quiesce {
				re.addQuiesce(it.group, it.term, it.commit)
			} else if err := re.addRaft(it.group, it.msg); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
		from2, items2, err := decodeFrame(re.frame(from))
		if err != nil || from2 != from || len(items2) != len(items) {
			t.Fatalf("re-encoded frame decodes differently: %v", err)
		}
	})
}

// FuzzDecodeRecord feeds the log record decoder arbitrary bytes (what a
// damaged disk can return): it must never panic or read out of bounds.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendEntryRecord(nil, 1, entry(2, 3, "data")))
	f.Add(appendHardStateRecord(nil, 1, hardState(2, 1, 3)))
	f.Add(appendSnapMarkRecord(nil, 4, 10, 2))
	f.Add(appendBareRecord(nil, kindSeal, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, n, err := decodeRecord(data)
		if err != nil {
			return
		}
		if n > len(data) || n < recordHeaderLen+9 {
			t.Fatalf("decoded length %d of %d bytes", n, len(data))
		}
		if r.kind == kindEntry && len(r.data) > n {
			t.Fatal("entry data longer than its record")
		}
	})
}

// FuzzDecodeSnapshot feeds the snapshot file decoder arbitrary bytes.
func FuzzDecodeSnapshot(f *testing.F) {
	b, _ := encodeSnapshot(&pb.Snapshot{Metadata: &pb.SnapshotMetadata{Index: new(uint64(5)), Term: new(uint64(2)),
		ConfState: &pb.ConfState{Voters: []uint64{1, 2, 3}}}, Data: []byte("state")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeSnapshot(data)
	})
}
