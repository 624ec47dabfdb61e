package jsapi_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// An s2-compressed stream: what clients read is what they published, also
// after a restart, and the blocks on disk are smaller than the data.
func TestS2CompressedStream(t *testing.T) {
	dir := t.TempDir()
	opts := func(o *config.Options) { o.JetStream, o.StoreDir = true, dir }
	s := testutil.StartServer(t, opts)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	st := testutil.CreateStream(t, js, jetstream.StreamConfig{Name: "Z", Subjects: []string{"z"}, Compression: jetstream.S2Compression})
	if info, _ := st.Info(c); info.Config.Compression != jetstream.S2Compression {
		t.Fatalf("compression %v", info.Config.Compression)
	}
	payload := bytes.Repeat([]byte("midge compresses this line. "), 200) // 5.6 kB
	for i := 0; i < 50; i++ {
		if _, err := js.Publish(c, "z", payload); err != nil {
			t.Fatal(err)
		}
	}
	s.Shutdown()
	var onDisk int64
	blocks, _ := filepath.Glob(filepath.Join(dir, "jetstream", "*", "streams", "Z", "blocks", "*.blk"))
	for _, b := range blocks {
		fi, _ := os.Stat(b)
		onDisk += fi.Size()
	}
	if onDisk == 0 || onDisk*5 > int64(50*len(payload)) {
		t.Fatalf("%d bytes on disk for %d of data (%v)", onDisk, 50*len(payload), blocks)
	}

	s2 := testutil.StartServer(t, opts)
	_, js2 := testutil.JSClient(t, s2)
	st2, _ := js2.Stream(testutil.Ctx(t), "Z")
	cons, err := st2.CreateOrUpdateConsumer(testutil.Ctx(t), jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(50, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if !bytes.Equal(m.Data(), payload) {
			t.Fatalf("message %d differs", n)
		}
		n++
	}
	if n != 50 {
		t.Fatalf("read back %d", n)
	}
}
