package jetstore

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/s2"
)

// FuzzDecodeRecord feeds arbitrary bytes to the record decoder and the
// damaged-range search: they must never panic, a decoded record must fit
// inside its input, and re-encoding a decoded message gives the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(appendMsgRecord(nil, 1, 2, "a.b", []byte("NATS/1.0\r\nK: v\r\n\r\n"), []byte("hi")))
	f.Add(appendMsgRecord(nil, 7, 0, "x", nil, nil))
	f.Add(appendDeleteRecord(nil, []seqRange{{1, 3}, {9, 9}}))
	f.Add(appendFloorRecord(nil, 42))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add(appendMsgRecordOf(nil, kindMsgS2, 3, 4, "z", nil, s2.Encode(nil, bytes.Repeat([]byte("ab"), 300))))
	f.Add(appendMsgRecordOf(nil, kindMsgS2, 3, 4, "z", nil, []byte("not s2 at all")))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, n, err := decodeRecord(data)
		if err == nil {
			if n <= 0 || n > len(data) {
				t.Fatalf("decoded length %d of %d bytes", n, len(data))
			}
			if data[4] == kindMsg { // kindMsgS2 decodes to a plain message
				again := appendMsgRecord(nil, rec.seq, rec.ts, string(rec.subject), rec.header, rec.data)
				if !bytes.Equal(again, data[:n]) {
					t.Fatalf("re-encoding differs")
				}
			}
		}
		if next := nextValidRecord(data, 0); next > len(data) {
			t.Fatalf("next record at %d beyond %d", next, len(data))
		}
	})
}
