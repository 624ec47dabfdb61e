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

// Listen opens a TCP listener on host and port (0 picks a free one). An IPv4
// host, 0.0.0.0 included, listens on IPv4 only, as the address says (a
// plain "tcp" listener on 0.0.0.0 would take IPv6 too); an IPv6 literal
// listens on IPv6 only; a name lets the system choose.
func Listen(host string, port int) (net.Listener, error) {
	network := "tcp"
	if ip := net.ParseIP(host); ip != nil {
		network = "tcp6"
		if ip.To4() != nil {
			network = "tcp4"
		}
	}
	return net.Listen(network, net.JoinHostPort(host, strconv.Itoa(port)))
}
