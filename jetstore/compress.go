package jetstore

import (
	"github.com/klauspost/compress/s2"
)

// Stream compression (compression: s2). A file stream that asks for it
// stores the data of each message record s2-compressed, in a record of its
// own kind (kindMsgS2), when that makes the record smaller; the header and
// subject stay as they are, so the indexes are rebuilt without
// decompressing headers. Records stay checksummed (the checksum covers the
// compressed bytes, and a record that does not decompress is treated as
// damaged). Streams without compression never write kindMsgS2, so their
// files stay readable by versions that do not know it; a stream may switch
// compression on or off at any time, as it only decides how new records
// are written.

// kindMsgS2 is kindMsg with s2-compressed data.
const kindMsgS2 byte = 6

// minCompressSize is the smallest data worth compressing: below it, s2's
// framing eats the savings.
const minCompressSize = 256

// compressLocked returns the record kind and the data bytes to store a
// message's data as.
func (st *Stream) compressLocked(data []byte) (byte, []byte) {
	if st.cfg.Compression != "s2" || len(data) < minCompressSize || !st.storage.persistent() {
		return kindMsg, data
	}
	enc := s2.Encode(nil, data)
	if len(enc) >= len(data) {
		return kindMsg, data
	}
	return kindMsgS2, enc
}

// decompressRecord turns a decoded kindMsgS2 record into the message it
// holds (a kindMsg record whose data is a new buffer).
func (r *record) decompress() error {
	n, err := s2.DecodedLen(r.data)
	if err != nil || n > maxRecordLen {
		return errCorruptRecord
	}
	data, err := s2.Decode(make([]byte, n), r.data)
	if err != nil {
		return errCorruptRecord
	}
	r.data, r.kind = data, kindMsg
	return nil
}
