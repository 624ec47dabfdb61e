package jsapi_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

// A key that exists is never reported missing while another client
// overwrites it: a Get answers the old value or the new one (a bucket
// keeps one message per key, and the new message replaces the old one
// before it is durable).
func TestKeyValueGetDuringOverwrites(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	_, readJS := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	kv, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "OVER"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(c, "k", []byte("0")); err != nil {
		t.Fatal(err)
	}
	reader, err := readJS.KeyValue(c, "OVER")
	if err != nil {
		t.Fatal(err)
	}
	const puts = 300
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= puts; i++ {
			if _, err := kv.Put(c, "k", []byte(fmt.Sprint(i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	gets, missing := 0, 0
	for done := false; !done; {
		if _, err := reader.Get(c, "k"); errors.Is(err, jetstream.ErrKeyNotFound) {
			missing++
		} else if err != nil {
			t.Fatal(err)
		}
		gets++
		e, err := reader.Get(c, "k")
		done = err == nil && string(e.Value()) == fmt.Sprint(puts)
	}
	wg.Wait()
	if missing > 0 {
		t.Fatalf("%d of %d gets of an existing key answered 'not found' during %d overwrites", missing, gets, puts)
	}
}
