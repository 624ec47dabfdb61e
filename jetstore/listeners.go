package jetstore

import "sync"

// listeners are woken after every commit so that consumers can deliver the
// new messages. A wake-up carries no data: a listener re-reads the stream.
type listeners struct {
	mu  sync.Mutex
	chs map[chan struct{}]struct{}
}

// Watch returns a channel that receives (coalesced) wake-ups after
// commits, and a function to stop watching.
func (st *Stream) Watch() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	l := &st.listeners
	l.mu.Lock()
	if l.chs == nil {
		l.chs = make(map[chan struct{}]struct{})
	}
	l.chs[ch] = struct{}{}
	l.mu.Unlock()
	return ch, func() {
		l.mu.Lock()
		delete(l.chs, ch)
		l.mu.Unlock()
	}
}

func (l *listeners) notify() {
	l.mu.Lock()
	for ch := range l.chs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	l.mu.Unlock()
}
