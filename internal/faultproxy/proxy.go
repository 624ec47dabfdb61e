// Package faultproxy is a fault-injecting TCP proxy for tests: a Proxy
// listens on a loopback port and forwards each connection to a target,
// and can drop (blackhole) either direction, delay it, cut connections
// (close them and refuse new ones) or reset them. A Network holds one
// proxy per ordered pair of named nodes (the one a node dials to reach
// another) and partitions them: Isolate, Split, one-way Drop, Heal.
package faultproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections accepted on Addr to a target address.
// "Up" is the direction from the dialling side to the target, "down" the
// reverse.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	dropUp   bool
	dropDown bool
	delay    time.Duration
	cut      bool
	closed   bool
	conns    map[*pair]struct{}
	accepted int
	wg       sync.WaitGroup
}

// pair is one proxied connection: the accepted side and the dialled one.
type pair struct {
	client, server net.Conn
	once           sync.Once
}

func (p *pair) close(reset bool) {
	p.once.Do(func() {
		if reset {
			for _, c := range []net.Conn{p.client, p.server} {
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
			}
		}
		_ = p.client.Close()
		_ = p.server.Close()
	})
}

// New starts a proxy on 127.0.0.1 (a free port) forwarding to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[*pair]struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Accepted is how many connections the proxy accepted and forwarded.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Conns is how many proxied connections are open.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		p.mu.Unlock()
		if refuse {
			_ = c.Close()
			continue
		}
		s, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		pr := &pair{client: c, server: s}
		p.mu.Lock()
		if p.cut || p.closed {
			p.mu.Unlock()
			pr.close(false)
			continue
		}
		p.conns[pr] = struct{}{}
		p.accepted++
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(pr, c, s, true)
		go p.pipe(pr, s, c, false)
	}
}

// pipe copies src to dst, applying the direction's faults to each chunk
// as it is read.
func (p *Proxy) pipe(pr *pair, src, dst net.Conn, up bool) {
	defer p.wg.Done()
	defer func() {
		pr.close(false)
		p.mu.Lock()
		delete(p.conns, pr)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := (up && p.dropUp) || (!up && p.dropDown)
			delay := p.delay
			p.mu.Unlock()
			if delay > 0 {
				time.Sleep(delay) // the injected latency itself
			}
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			return
		}
	}
}

// Drop blackholes a direction (bytes read and discarded, connections kept
// open): up is dialler to target, down the reverse.
func (p *Proxy) Drop(up, down bool) {
	p.mu.Lock()
	p.dropUp, p.dropDown = up, down
	p.mu.Unlock()
}

// Delay holds each chunk forwarded, both directions, for d.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Cut closes every proxied connection and refuses new ones until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
	p.closeAll(false)
}

// Reset closes every proxied connection with a TCP reset; new ones are
// taken as usual.
func (p *Proxy) Reset() { p.closeAll(true) }

// Heal lifts every fault: drops, delay and cut.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.dropUp, p.dropDown, p.delay, p.cut = false, false, 0, false
	p.mu.Unlock()
}

func (p *Proxy) closeAll(reset bool) {
	p.mu.Lock()
	prs := make([]*pair, 0, len(p.conns))
	for pr := range p.conns {
		prs = append(prs, pr)
	}
	p.mu.Unlock()
	for _, pr := range prs {
		pr.close(reset)
	}
}

// Close stops the proxy and closes its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.closeAll(false)
	p.wg.Wait()
	return err
}
