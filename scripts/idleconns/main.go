// Command idleconns opens many idle client connections to a NATS-protocol
// server and reports the server process's resident memory before and after,
// so that the per-connection cost of two servers can be compared the same
// way (scripts/idle-memory.sh runs it against midge and nats-server).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4222", "server address")
	pid := flag.Int("pid", 0, "server process id (for /proc/PID/status)")
	n := flag.Int("conns", 10000, "idle connections to open")
	flag.Parse()
	if *pid == 0 {
		fmt.Fprintln(os.Stderr, "idleconns: --pid is required")
		os.Exit(2)
	}
	before, err := rssKiB(*pid)
	if err != nil {
		fail(err)
	}
	conns := make([]net.Conn, 0, *n)
	for i := 0; i < *n; i++ {
		c, err := handshake(*addr)
		if err != nil {
			fail(fmt.Errorf("connection %d: %w", i, err))
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second) // let the server settle (GC, lazily grown buffers)
	after, err := rssKiB(*pid)
	if err != nil {
		fail(err)
	}
	fmt.Printf("conns=%d rss_before_kib=%d rss_after_kib=%d per_conn_bytes=%d\n",
		*n, before, after, (after-before)*1024/int64(*n))
	for _, c := range conns {
		c.Close()
	}
}

// handshake connects like a client library: read INFO, CONNECT, PING, and
// wait for PONG, so the server holds a fully set-up connection.
func handshake(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nPING\r\n")); err != nil {
		return nil, err
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(line, "PONG") {
			break
		}
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "idleconns:", err)
	os.Exit(1)
}
