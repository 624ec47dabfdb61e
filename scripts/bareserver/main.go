// Command bareserver is the least server the benchmark clients accept: it
// relays each core message to the subscribers of exactly its subject and
// acknowledges each JetStream publish at once, storing nothing. Large
// payloads and JetStream publishing measured against it show what the
// clients and the kernel allow on this machine, a ceiling for any broker,
// as ../shared/tools/nullsink does for publishing alone (scripts/ceiling.sh
// runs it beside midge and the reference server).
//
// It speaks just enough of the protocol for `nats bench`: CONNECT, PING,
// SUB, UNSUB, PUB and HPUB; no wildcards, queue groups or limits. A publish
// with a reply subject under $JS.API. gets a canned answer (stream create
// and info echo the requested config; "stream not found" before it exists);
// any other publish with a reply is acknowledged with the next sequence.
// Each connection has one reader, which gathers what a read produces per
// receiver and hands each receiver its part once, and one writer that
// sends whatever was queued for it in one write.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/midgemq/midge/parser"
)

func main() {
	addr := flag.String("a", "127.0.0.1", "address to listen on")
	port := flag.Int("p", 4222, "port to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", net.JoinHostPort(*addr, strconv.Itoa(*port)))
	if err == nil {
		err = acceptLoop(ln)
	}
	fmt.Fprintln(os.Stderr, "bareserver:", err)
	os.Exit(1)
}

// acceptLoop serves every connection ln accepts until it fails.
func acceptLoop(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go serve(c)
	}
}

const info = `INFO {"server_id":"bareserver","server_name":"bareserver","version":"2.14.0","proto":1,"headers":true,` +
	`"jetstream":true,"max_payload":8388608,"host":"127.0.0.1","port":0,"client_id":1}` + "\r\n"

// maxPending holds a publisher back while a receiver has this much queued.
const maxPending = 8 << 20

// conn is one client connection.
type conn struct {
	nc   net.Conn
	r    *bufio.Reader
	subs map[string]string // this client's subjects and their sids, for its own replies
	seq  uint64            // the sequence of the next acknowledged JetStream publish
	num  []byte

	// What this connection's reads produce, by receiver, handed over once
	// per read (or when a receiver's part grows past stageMax): a receiver
	// is locked once per read of each publisher, not once per message.
	staged  []stage
	stageOf map[*conn]int

	mu      sync.Mutex
	drained *sync.Cond // signalled when the writer took the queue
	bufs    [][]byte   // queued for the writer
	pending int        // bytes in bufs
	closed  bool
	wake    chan struct{}
}

type stage struct {
	dst *conn
	buf []byte
}

const stageMax = 64 << 10

// buffers recycles the staged buffers the writers are done with.
var buffers = sync.Pool{New: func() any { return make([]byte, 0, stageMax+4<<10) }}

// sub is a subscription as the relay sees it.
type sub struct {
	c   *conn
	sid string
}

// interest is every connection's subscriptions by exact subject.
var interest struct {
	sync.RWMutex
	subs map[string][]sub
}

func serve(nc net.Conn) {
	c := &conn{nc: nc, r: bufio.NewReaderSize(nc, 256<<10), subs: map[string]string{},
		stageOf: map[*conn]int{}, wake: make(chan struct{}, 1)}
	c.drained = sync.NewCond(&c.mu)
	go c.writeLoop()
	c.stageTo(c, []byte(info))
	c.handOver()
	err := c.readLoop()
	if err != nil && err != io.EOF {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
	}
	c.unsubscribeAll()
	c.mu.Lock()
	c.closed = true
	c.drained.Broadcast()
	c.mu.Unlock()
	c.kick()
}

func (c *conn) readLoop() error {
	var f [5][]byte
	for {
		if c.r.Buffered() == 0 {
			c.handOver() // everything this read produced, before waiting for the next
		}
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		args := fields(bytes.TrimRight(line, "\r\n"), f[:0])
		if len(args) == 0 {
			continue
		}
		switch op := args[0]; {
		case bytes.EqualFold(op, []byte("PING")):
			c.stageTo(c, []byte("PONG\r\n"))
		case bytes.EqualFold(op, []byte("SUB")) && len(args) >= 3:
			c.subscribe(string(args[1]), string(args[len(args)-1]))
		case bytes.EqualFold(op, []byte("PUB")), bytes.EqualFold(op, []byte("HPUB")):
			if err := c.publish(bytes.EqualFold(op, []byte("HPUB")), args[1:]); err != nil {
				return err
			}
		}
	}
}

// fields splits a protocol line at spaces into dst without allocating.
func fields(line []byte, dst [][]byte) [][]byte {
	for len(line) > 0 && len(dst) < cap(dst) {
		line = bytes.TrimLeft(line, " \t")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		dst = append(dst, line[:end])
		line = line[end:]
	}
	return dst
}

func (c *conn) subscribe(subject, sid string) {
	c.subs[subject] = sid
	interest.Lock()
	if interest.subs == nil {
		interest.subs = map[string][]sub{}
	}
	interest.subs[subject] = append(interest.subs[subject], sub{c, sid})
	interest.Unlock()
}

func (c *conn) unsubscribeAll() {
	interest.Lock()
	for subject := range c.subs {
		var kept []sub // a new slice: relays may be reading the old one
		for _, s := range interest.subs[subject] {
			if s.c != c {
				kept = append(kept, s)
			}
		}
		interest.subs[subject] = kept
	}
	interest.Unlock()
}

// publish reads a message's body, relays it, and answers it when it has a
// reply subject.
func (c *conn) publish(headers bool, args [][]byte) error {
	sizeAt := 1
	if headers {
		sizeAt = 2
	}
	if len(args) < sizeAt+1 || len(args) > sizeAt+2 {
		return fmt.Errorf("bad publish arguments %q", args)
	}
	size, err := strconv.Atoi(string(args[len(args)-1]))
	if err != nil || size < 0 {
		return fmt.Errorf("bad size in %q", args)
	}
	// The arguments point into the reader's buffer, which reading the body
	// may refill: take what is needed first.
	subject := string(args[0])
	reply := ""
	if len(args) == sizeAt+2 {
		reply = string(args[1])
	}
	hdrLen := -1
	if headers {
		hdrLen, _ = strconv.Atoi(string(args[len(args)-2]))
	}
	body, err := c.readBody(size + 2)
	if err != nil {
		return err
	}
	body = body[:size]
	if reply == "" {
		c.relay(subject, hdrLen, body)
		return nil
	}
	if strings.HasPrefix(subject, "$JS.API.") {
		c.answer(reply, apiAnswer(subject, body[min(max(hdrLen, 0), size):]))
		return nil
	}
	c.seq++
	c.num = strconv.AppendUint(append(c.num[:0], `{"stream":"benchstream","seq":`...), c.seq, 10)
	c.num = append(c.num, '}')
	c.answer(reply, c.num)
	return nil
}

// readBody returns the next n bytes, from the read buffer when they fit.
func (c *conn) readBody(n int) ([]byte, error) {
	if n <= c.r.Size() {
		b, err := c.r.Peek(n)
		if err != nil {
			return nil, err
		}
		_, _ = c.r.Discard(n)
		return b, nil
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c.r, b)
	return b, err
}

// relay queues the message (with hdrLen bytes of headers, -1: none) for
// every subscriber of subject.
func (c *conn) relay(subject string, hdrLen int, payload []byte) {
	interest.RLock()
	subs := interest.subs[subject]
	interest.RUnlock()
	for _, s := range subs {
		c.stageMsg(s.c, subject, s.sid, hdrLen, payload)
	}
}

// answer sends payload to the reply subject the client subscribed to: an
// exact subscription or its wildcard inbox.
func (c *conn) answer(reply string, payload []byte) {
	sid, ok := c.subs[reply]
	if !ok {
		if i := strings.LastIndexByte(reply, '.'); i > 0 {
			sid, ok = c.subs[reply[:i]+".*"]
		}
	}
	if ok {
		c.stageMsg(c, reply, sid, -1, payload)
	}
}

// stageMsg adds a MSG (HMSG with hdrLen >= 0) to dst's part of this read.
func (c *conn) stageMsg(dst *conn, subject, sid string, hdrLen int, payload []byte) {
	st := c.stageFor(dst)
	if hdrLen >= 0 {
		st.buf = parser.AppendHMsg(st.buf, []byte(subject), []byte(sid), nil, hdrLen, len(payload))
	} else {
		st.buf = parser.AppendMsg(st.buf, []byte(subject), []byte(sid), nil, len(payload))
	}
	st.buf = append(append(st.buf, payload...), "\r\n"...)
	if len(st.buf) >= stageMax {
		c.handOver()
	}
}

// stageTo adds protocol bytes (INFO, PONG) to dst's part of this read.
func (c *conn) stageTo(dst *conn, line []byte) {
	st := c.stageFor(dst)
	st.buf = append(st.buf, line...)
}

// stageFor is dst's part of what this read produced; valid until the
// next stageFor.
func (c *conn) stageFor(dst *conn) *stage {
	i, ok := c.stageOf[dst]
	if !ok {
		i = len(c.staged)
		c.stageOf[dst] = i
		c.staged = append(c.staged, stage{dst: dst, buf: buffers.Get().([]byte)[:0]})
	}
	return &c.staged[i]
}

// handOver queues every receiver's part with its writer.
func (c *conn) handOver() {
	for _, st := range c.staged {
		d := st.dst
		d.mu.Lock()
		for d.pending > maxPending && !d.closed {
			d.drained.Wait()
		}
		d.bufs = append(d.bufs, st.buf)
		d.pending += len(st.buf)
		d.mu.Unlock()
		d.kick()
	}
	clear(c.staged)
	c.staged = c.staged[:0]
	clear(c.stageOf)
}

func (c *conn) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the connection's only writer: it takes the whole queue and
// writes it at once.
func (c *conn) writeLoop() {
	defer c.nc.Close()
	var spare [][]byte
	var iov net.Buffers
	for range c.wake {
		c.mu.Lock()
		bufs, closed := c.bufs, c.closed
		c.bufs, c.pending = spare[:0], 0
		c.drained.Broadcast()
		c.mu.Unlock()
		iov = append(iov[:0], bufs...) // WriteTo consumes iov's slices, not bufs'
		if _, err := iov.WriteTo(c.nc); err != nil {
			return
		}
		for i, b := range bufs {
			buffers.Put(b[:0])
			bufs[i] = nil
		}
		spare = bufs
		if closed {
			return
		}
	}
}

// streams holds the configs of the streams created, by name, so that a
// later stream info request finds them.
var streams sync.Map

// apiAnswer is the canned answer to a JetStream API request.
func apiAnswer(subject string, body []byte) []byte {
	const state = `"created":"2026-01-01T00:00:00Z","state":{"messages":0,"bytes":0,"first_seq":0,` +
		`"last_seq":0,"consumer_count":0},"ts":"2026-01-01T00:00:00Z"}`
	op, name, _ := strings.Cut(strings.TrimPrefix(subject, "$JS.API."), ".")
	if op == "STREAM" {
		op, name, _ = strings.Cut(name, ".")
		op = "STREAM." + op
	}
	switch op {
	case "INFO":
		return []byte(`{"type":"io.nats.jetstream.api.v1.account_info_response","memory":0,"storage":0,` +
			`"streams":0,"consumers":0,"limits":{"max_memory":-1,"max_storage":-1,"max_streams":-1,` +
			`"max_consumers":-1},"api":{"level":2,"total":0,"errors":0}}`)
	case "STREAM.CREATE", "STREAM.UPDATE":
		streams.Store(name, string(body))
		return []byte(`{"type":"io.nats.jetstream.api.v1.stream_create_response","config":` + string(body) + "," + state)
	case "STREAM.INFO":
		if cfg, ok := streams.Load(name); ok {
			return []byte(`{"type":"io.nats.jetstream.api.v1.stream_info_response","config":` + cfg.(string) + "," + state)
		}
	}
	return []byte(`{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,` +
		`"err_code":10059,"description":"stream not found"}}`)
}
