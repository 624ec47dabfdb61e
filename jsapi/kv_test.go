package jsapi_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go/jetstream"
)

func TestKeyValue(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	kv, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "CFG", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	// Creating it again with the same config is fine (idempotent stream create).
	if _, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "CFG", History: 5}); err != nil {
		t.Fatalf("second create: %v", err)
	}
	rev, err := kv.Put(c, "a.b", []byte("1"))
	if err != nil || rev != 1 {
		t.Fatalf("put: %d %v", rev, err)
	}
	e, err := kv.Get(c, "a.b")
	if err != nil || string(e.Value()) != "1" || e.Revision() != 1 || e.Operation() != jetstream.KeyValuePut {
		t.Fatalf("get: %+v %v", e, err)
	}
	// CAS: update with the right revision works, with a stale one fails.
	if rev, err = kv.Update(c, "a.b", []byte("2"), 1); err != nil || rev != 2 {
		t.Fatalf("update: %d %v", rev, err)
	}
	if _, err := kv.Update(c, "a.b", []byte("x"), 1); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("stale update: %v", err)
	}
	if _, err := kv.Create(c, "a.b", []byte("x")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("create existing: %v", err)
	}
	if _, err := kv.Create(c, "new", []byte("n")); err != nil {
		t.Fatalf("create new: %v", err)
	}
	if e, err = kv.GetRevision(c, "a.b", 1); err != nil || string(e.Value()) != "1" {
		t.Fatalf("get revision: %v", err)
	}
	if err := kv.Delete(c, "new"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(c, "new"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
	// Create after delete is allowed.
	if _, err := kv.Create(c, "new", []byte("again")); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	hist, err := kv.History(c, "a.b")
	if err != nil || len(hist) != 2 || string(hist[0].Value()) != "1" || string(hist[1].Value()) != "2" {
		t.Fatalf("history: %v %v", hist, err)
	}
	keys, err := kv.Keys(c)
	slices.Sort(keys)
	if err != nil || !slices.Equal(keys, []string{"a.b", "new"}) {
		t.Fatalf("keys: %v %v", keys, err)
	}
	if err := kv.Purge(c, "a.b"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(c, "a.b"); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("purged key: %v", err)
	}
	if hist, _ = kv.History(c, "a.b"); len(hist) != 1 || hist[0].Operation() != jetstream.KeyValuePurge {
		t.Fatalf("history after purge: %v", hist)
	}
	status, err := kv.Status(c)
	if err != nil || status.History() != 5 || status.Bucket() != "CFG" {
		t.Fatalf("status: %v %v", status, err)
	}
	var names []string
	for n := range js.KeyValueStoreNames(c).Name() {
		names = append(names, n)
	}
	if !slices.Equal(names, []string{"CFG"}) {
		t.Fatalf("bucket names %v", names)
	}
	if err := js.DeleteKeyValue(c, "CFG"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.KeyValue(c, "CFG"); !errors.Is(err, jetstream.ErrBucketNotFound) {
		t.Fatalf("deleted bucket: %v", err)
	}
}

func TestKeyValueWatch(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	kv, _ := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "W"})
	kv.Put(c, "k1", []byte("v1"))
	kv.Put(c, "k2", []byte("v2"))
	kv.Put(c, "k1", []byte("v1b"))

	w, err := kv.WatchAll(c)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	next := func() jetstream.KeyValueEntry {
		t.Helper()
		select {
		case e := <-w.Updates():
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("watch stalled")
			return nil
		}
	}
	// Initial values: the latest of each key, then nil marks the end.
	got := map[string]string{}
	for e := next(); e != nil; e = next() {
		got[e.Key()] = string(e.Value())
	}
	if len(got) != 2 || got["k1"] != "v1b" || got["k2"] != "v2" {
		t.Fatalf("initial values %v", got)
	}
	kv.Put(c, "k3", []byte("v3"))
	if e := next(); e.Key() != "k3" || string(e.Value()) != "v3" {
		t.Fatalf("update %v=%s", e.Key(), e.Value())
	}
	kv.Delete(c, "k2")
	if e := next(); e.Key() != "k2" || e.Operation() != jetstream.KeyValueDelete {
		t.Fatalf("delete seen as %v %v", e.Key(), e.Operation())
	}

	// Updates only, on one key pattern.
	w2, err := kv.Watch(c, "k1", jetstream.UpdatesOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Stop()
	kv.Put(c, "k1", []byte("v1c"))
	select {
	case e := <-w2.Updates():
		if e == nil || string(e.Value()) != "v1c" {
			t.Fatalf("updates-only got %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("updates-only watch stalled")
	}
}

func TestKeyValueTTL(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	kv, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: "T", TTL: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kv.Put(c, "short", []byte("lived"))
	testutil.WaitFor(t, "key to expire", func() bool {
		_, err := kv.Get(c, "short")
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
}

func TestObjectStore(t *testing.T) {
	s := testutil.StartJS(t)
	_, js := testutil.JSClient(t, s)
	c := testutil.Ctx(t)
	obs, err := js.CreateObjectStore(c, jetstream.ObjectStoreConfig{Bucket: "FILES"})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 5<<20+12345)
	rand.Read(big)
	info, err := obs.PutBytes(c, "dir/big.bin", big)
	if err != nil || info.Size != uint64(len(big)) || info.Chunks < 40 {
		t.Fatalf("put: %+v %v", info, err)
	}
	obs.PutString(c, "small.txt", "hello")

	got, err := obs.GetBytes(c, "dir/big.bin") // verifies the digest
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	r, err := obs.Get(c, "small.txt")
	if err != nil {
		t.Fatal(err)
	}
	small, _ := io.ReadAll(r)
	r.Close()
	if string(small) != "hello" {
		t.Fatalf("small = %q", small)
	}
	list, err := obs.List(c)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	if info, err := obs.GetInfo(c, "dir/big.bin"); err != nil || info.Size != uint64(len(big)) {
		t.Fatalf("info: %v %v", info, err)
	}
	// Overwrite: the old chunks are purged.
	obs.PutString(c, "dir/big.bin", "now small")
	if s, err := obs.GetString(c, "dir/big.bin"); err != nil || s != "now small" {
		t.Fatalf("overwritten: %q %v", s, err)
	}
	st, _ := js.Stream(c, "OBJ_FILES")
	if info, _ := st.Info(c); info.State.Bytes > 1<<20 {
		t.Fatalf("old chunks not purged: %d bytes", info.State.Bytes)
	}
	if err := obs.Delete(c, "small.txt"); err != nil {
		t.Fatal(err)
	}
	if _, err := obs.Get(c, "small.txt"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Fatalf("deleted object: %v", err)
	}

	w, err := obs.Watch(c)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	seen := 0
	for e := range w.Updates() {
		if e == nil {
			break
		}
		seen++
	}
	if seen != 2 { // dir/big.bin and the deleted small.txt
		t.Fatalf("watch initial entries %d", seen)
	}
	obs.PutString(c, "later", "x")
	select {
	case e := <-w.Updates():
		if e == nil || e.Name != "later" {
			t.Fatalf("watch update %v", e)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("object watch stalled")
	}
	_ = fmt.Sprint()
}
