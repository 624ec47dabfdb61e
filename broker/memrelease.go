package broker

import (
	"runtime/debug"
	"sync/atomic"
)

// Giving memory back after a large teardown. A connection holding hundreds
// of thousands of subscriptions owns hundreds of megabytes of trie nodes
// and maps; once it closes they are garbage, but Go's runtime keeps the
// freed pages for reuse and hands them back to the operating system only
// slowly, so the process stays as large as it was at its peak. After such
// a teardown the broker asks the runtime to collect and return the memory
// at once (debug.FreeOSMemory). That costs a full collection, so it is
// reserved for teardowns of at least bigTeardownSubs subscriptions and at
// most one runs at a time; a teardown while one runs asks for one more.

// bigTeardownSubs is the number of subscriptions whose removal is worth a
// forced collection.
const bigTeardownSubs = 100_000

// memRelease runs debug.FreeOSMemory on its own goroutine, one at a time.
type memRelease struct {
	running atomic.Bool
	again   atomic.Bool
}

// afterTeardown is told how many subscriptions a closing connection held.
func (b *Broker) afterTeardown(subs int) {
	if subs < bigTeardownSubs {
		return
	}
	m := &b.memRelease
	m.again.Store(true)
	if !m.running.CompareAndSwap(false, true) {
		return // the running release sees again and goes round once more
	}
	go func() {
		for {
			for m.again.Swap(false) {
				debug.FreeOSMemory()
			}
			m.running.Store(false)
			// A request between the last Swap and the Store would be lost
			// without this second look.
			if !m.again.Load() || !m.running.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}
