package kafka

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestCompressedBatchesRoundTrip(t *testing.T) {
	b := startBroker(t, Config{})
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"gzip", kgo.GzipCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "z-" + c.name
			b.createTopic(b.client(), topic, 1)
			prod := b.client(kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(c.codec),
				kgo.ProducerLinger(20*time.Millisecond))
			ctx := ctxTimeout(t, 30*time.Second)
			const n = 500
			value := bytes.Repeat([]byte("compressible "), 20)
			for i := 0; i < n; i++ {
				prod.Produce(ctx, &kgo.Record{Key: []byte(keyOf(i)), Value: value,
					Headers: []kgo.RecordHeader{{Key: "codec", Value: []byte(c.name)}}}, nil)
			}
			if err := prod.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			cons := b.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			recs := consumeN(t, ctx, cons, n)
			for i, r := range recs {
				if string(r.Key) != keyOf(i) || !bytes.Equal(r.Value, value) || string(r.Headers[0].Value) != c.name {
					t.Fatalf("record %d: key %q, value %d bytes, headers %v", i, r.Key, len(r.Value), r.Headers)
				}
			}
		})
	}
}

func TestSnappyInJavaFramingDecodes(t *testing.T) {
	want := bytes.Repeat([]byte("chunked snappy "), 1000)
	framed := append([]byte{}, xerialMagic...)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	framed = binary.BigEndian.AppendUint32(framed, 1)
	for _, chunk := range [][]byte{want[:5000], want[5000:]} {
		enc := s2.EncodeSnappy(nil, chunk)
		framed = binary.BigEndian.AppendUint32(framed, uint32(len(enc)))
		framed = append(framed, enc...)
	}
	got, err := decompress(codecSnappy, framed, 1<<20)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("decoded %d bytes, %v", len(got), err)
	}
}

func TestDecompressionIsBounded(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, 256<<10)
	var gz, l4 bytes.Buffer
	gw := gzip.NewWriter(&gz)
	gw.Write(big)
	gw.Close()
	lw := lz4.NewWriter(&l4)
	lw.Write(big)
	lw.Close()
	enc, _ := zstd.NewWriter(nil)
	zs := enc.EncodeAll(big, nil)
	inputs := map[int8][]byte{codecNone: big, codecGzip: gz.Bytes(), codecSnappy: s2.EncodeSnappy(nil, big), codecLZ4: l4.Bytes(), codecZstd: zs}
	for codec, data := range inputs {
		if out, err := decompress(codec, data, len(big)); err != nil || !bytes.Equal(out, big) {
			t.Fatalf("codec %d: %d bytes at the limit, %v", codec, len(out), err)
		}
		if _, err := decompress(codec, data, 1000); err == nil {
			t.Fatalf("codec %d: 256 KiB decoded under a 1000-byte limit", codec)
		}
	}
	if _, err := decompress(9, nil, 1000); err == nil {
		t.Fatal("unknown codec accepted")
	}
}
