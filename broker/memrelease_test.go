package broker_test

import (
	"bufio"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testutil"
)

// heldFromOS is the heap memory the Go runtime holds from the operating
// system (in use or kept idle for reuse), which is what RSS shows of it.
func heldFromOS() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapSys - ms.HeapReleased
}

// TestMemoryGivenBackAfterBigTeardown: a connection with 150,000
// subscriptions holds about 100 MB; once it closes the server hands
// that memory back to the operating system promptly instead of keeping it
// at its peak.
func TestMemoryGivenBackAfterBigTeardown(t *testing.T) {
	const subs = 150_000
	s := testutil.StartServer(t)
	runtime.GC()
	before := heldFromOS()

	rc := testutil.DialRaw(t, s)
	w := bufio.NewWriterSize(rc.Conn, 1<<16)
	w.WriteString("CONNECT {\"verbose\":false}\r\n")
	for i := 0; i < subs; i++ {
		fmt.Fprintf(w, "SUB teardown.%d.x %d\r\n", i, i+1)
	}
	w.WriteString("PING\r\n")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	// Subscribing this many takes long under -race on a busy machine.
	rc.Conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	for {
		line, err := rc.Reader.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for PONG: %v", err)
		}
		if line == "PONG\r\n" {
			break
		}
		if line != "PING\r\n" { // the server may check on a busy client
			t.Fatalf("waiting for PONG, got %q", line)
		}
		rc.Send("PONG\r\n")
	}
	peak := heldFromOS()
	// Usually about 100 MB; a collection during the subscribing can leave
	// a third of that. Below 16 MB the release could not be told apart.
	if grown := int64(peak) - int64(before); grown < 16<<20 {
		t.Fatalf("%d subscriptions grew the heap by only %d bytes; the test proves nothing", subs, grown)
	}
	rc.Conn.Close()
	for gone := time.Now().Add(2 * time.Minute); s.Broker().NumSubscriptions() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(gone) { // slow under -race on a busy machine, but bounded
			t.Fatalf("%d subscriptions left 2 minutes after the close", s.Broker().NumSubscriptions())
		}
	}

	// The runtime alone returns idle memory at a slow pace (minutes for
	// this much); the server's release makes it a matter of a collection.
	deadline := time.Now().Add(3 * time.Second)
	for heldFromOS() > before+(peak-before)/4 {
		if time.Now().After(deadline) {
			t.Fatalf("heap held from the OS: %d MB before, %d MB with the subscriptions, %d MB 3 s after the close",
				before>>20, peak>>20, heldFromOS()>>20)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
