package route_test

import (
	"io"
	"net"
	"sync"
	"testing"
)

// faultProxy is a TCP proxy between two servers that a test can cut
// (close every connection and refuse new ones), blackhole (keep the
// connections but drop every byte) and heal.
type faultProxy struct {
	t      testing.TB
	ln     net.Listener
	target string

	mu        sync.Mutex
	down      bool // refuse and close
	blackhole bool // accept, drop bytes
	conns     []net.Conn
	wg        sync.WaitGroup
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{t: t, ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the route URL that leads through the proxy.
func (p *faultProxy) URL() string { return "nats-route://" + p.ln.Addr().String() }

func (p *faultProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies src to dst, dropping what arrives while blackholed.
func (p *faultProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := p.blackhole
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			return
		}
	}
}

// cut closes every proxied connection and refuses new ones.
func (p *faultProxy) cut() {
	p.mu.Lock()
	p.down = true
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// setBlackhole starts or stops dropping bytes on the open connections.
func (p *faultProxy) setBlackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
}

// heal lets connections through again.
func (p *faultProxy) heal() {
	p.mu.Lock()
	p.down, p.blackhole = false, false
	p.mu.Unlock()
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}
