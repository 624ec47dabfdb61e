package broker

import (
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/midgemq/midge/logging"
)

// acceptBackoffMax caps the pause after accept errors such as running out
// of file descriptors, so the loop neither spins nor sleeps for long.
const acceptBackoffMax = time.Second

// AcceptLoop accepts connections on ln and hands each to serve, until ln is
// closed. Temporary errors (out of file descriptors) pause it with a
// growing backoff; stopping reports whether a failing Accept is the
// listener being closed on purpose, which ends the loop quietly.
func AcceptLoop(ln net.Listener, log logging.Logger, stopping func() bool, serve func(net.Conn)) {
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if err != nil {
			if stopping() {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				log.Warn("accept failed, backing off", "listener", ln.Addr().String(), "error", err, "pause", backoff)
				time.Sleep(backoff)
				backoff = min(2*backoff, acceptBackoffMax)
				continue
			}
			log.Error("accept failed, no longer accepting clients", "listener", ln.Addr().String(), "error", err)
			return
		}
		backoff = 5 * time.Millisecond
		serve(conn)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Listen opens a TCP listener on host and port (0 picks a free one). The
// wildcard 0.0.0.0 takes IPv4 and IPv6 clients, as the reference server's
// listener does, and its address reads 0.0.0.0:port as configured (Go
// would report the dual-stack socket as [::]:port, which looks like an
// IPv6-only listener in the log, INFO and the ports file).
func Listen(host string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip != nil && ip.To4() != nil && ip.IsUnspecified() {
		return ipv4WildcardListener{ln}, nil
	}
	return ln, nil
}

// ipv4WildcardListener is a dual-stack listener asked for as 0.0.0.0.
type ipv4WildcardListener struct{ net.Listener }

func (l ipv4WildcardListener) Addr() net.Addr {
	a, ok := l.Listener.Addr().(*net.TCPAddr)
	if !ok {
		return l.Listener.Addr()
	}
	return &net.TCPAddr{IP: net.IPv4zero, Port: a.Port}
}
