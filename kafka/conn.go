package kafka

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one Kafka client connection. Its reader goroutine decodes
// requests and carries out their effects in arrival order; its writer
// goroutine sends the responses in the same order, as the protocol
// requires. A produce request is handed to the store by the reader, and
// only the wait for durability is left to the writer, so that a client
// with several produce requests in flight has them committed together.
type conn struct {
	srv    *Server
	nc     net.Conn
	id     uint64
	ctx    context.Context
	cancel context.CancelFunc
	out    chan pending // bounded: the reader waits when the writer lags

	// Owned by the reader goroutine.
	be             Backend  // the user's view of the account; nil until authenticated
	acct           *account // the account's groups and producers
	saslMechanism  string   // set by SaslHandshake
	saslDone       bool     // authenticated with SASL (once per connection)
	rawSASL        bool     // SaslHandshake v0: the next frame is a bare token
	clientID       string
	clientSoftware string
}

// pending is a response in the connection's queue. resp is ready, or wait
// produces it (blocking); a nil response sends nothing (acks=0).
type pending struct {
	correlationID int32
	resp          kmsg.Response
	raw           []byte // a bare SASL v0 frame instead of a response
	wait          func() kmsg.Response
	closeAfter    bool   // close the connection once it is written
	reason        string // why, for the log
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, id: s.nextConn.Add(1), out: make(chan pending, s.cfg.MaxInflight)}
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	if be := s.anonymousBackend(); be != nil {
		c.be, c.acct = be, s.accountFor(be)
	}
	return c
}

func (c *conn) serve() {
	defer c.cancel()
	s := c.srv
	s.log.Debug("Kafka client connected", "cid", c.id, "remote", c.nc.RemoteAddr().String())
	writerDone := make(chan struct{})
	go c.writeLoop(writerDone)
	reason := c.readLoop()
	close(c.out)
	<-writerDone
	c.nc.Close()
	s.log.Debug("Kafka client disconnected", "cid", c.id, "reason", reason)
}

// readLoop reads and handles requests until the connection ends; it
// returns why.
func (c *conn) readLoop() string {
	s := c.srv
	br := bufio.NewReaderSize(c.nc, 32<<10)
	for {
		limit := s.cfg.MaxRequestSize
		if c.acct == nil {
			limit = preAuthMaxRequestSize
		}
		frame, err := readFrame(br, limit)
		if err != nil {
			if s.draining.Load() {
				return "server shutting down"
			}
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return "client closed"
			}
			s.stats.malformed.Add(1)
			s.log.Warn("closing Kafka connection", "cid", c.id, "remote", c.nc.RemoteAddr().String(), "reason", err.Error())
			return err.Error()
		}
		s.stats.bytesIn.Add(uint64(len(frame)) + 4)
		if c.rawSASL {
			p := c.handleRawSASL(frame)
			if !c.enqueue(p) || p.closeAfter {
				return p.reason
			}
			continue
		}
		p := c.handleFrame(frame)
		if !c.enqueue(p) || p.closeAfter {
			if p.reason != "" {
				s.log.Warn("closing Kafka connection", "cid", c.id, "remote", c.nc.RemoteAddr().String(), "reason", p.reason)
			}
			return p.reason
		}
	}
}

func (c *conn) enqueue(p pending) bool {
	select {
	case c.out <- p:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// handleFrame decodes one request and handles it.
func (c *conn) handleFrame(frame []byte) pending {
	s := c.srv
	s.stats.requests.Add(1)
	hdr, req, err := parseRequest(frame)
	switch {
	case errors.Is(err, errShortHeader):
		return pending{closeAfter: true, reason: "request too short for a header"}
	case errors.Is(err, errUnknownAPI):
		s.stats.unsupported.Add(1)
		if resp, ok := errorResponse(hdr.key, hdr.version, errUnsupportedVersion); ok {
			return pending{correlationID: hdr.correlationID, resp: resp}
		}
		return pending{closeAfter: true, reason: "unknown api key " + itoa(hdr.key) + " version " + itoa(hdr.version)}
	case err != nil:
		s.stats.malformed.Add(1)
		p := pending{correlationID: hdr.correlationID, closeAfter: true, reason: err.Error()}
		p.resp, _ = errorResponse(hdr.key, hdr.version, errInvalidRequest)
		return p
	}
	c.clientID = hdr.clientID
	if !versionSupported(hdr.key, hdr.version) {
		s.stats.unsupported.Add(1)
		s.log.Debug("unsupported Kafka request", "cid", c.id, "api", kmsg.NameForKey(hdr.key), "version", hdr.version)
		resp, _ := errorResponse(hdr.key, hdr.version, errUnsupportedVersion)
		return pending{correlationID: hdr.correlationID, resp: resp}
	}
	if c.acct == nil && hdr.key != keyApiVersions && hdr.key != keySaslHandshake && hdr.key != keySaslAuthenticate {
		resp, _ := errorResponse(hdr.key, hdr.version, errIllegalSASLState)
		return pending{correlationID: hdr.correlationID, resp: resp, closeAfter: true,
			reason: kmsg.NameForKey(hdr.key) + " before SASL authentication"}
	}
	p := c.dispatch(req)
	p.correlationID = hdr.correlationID
	return p
}

// dispatch runs a request's handler.
func (c *conn) dispatch(req kmsg.Request) pending {
	switch r := req.(type) {
	case *kmsg.ApiVersionsRequest:
		return pending{resp: c.handleApiVersions(r)}
	case *kmsg.MetadataRequest:
		return pending{resp: c.handleMetadata(r)}
	case *kmsg.CreateTopicsRequest:
		return pending{resp: c.handleCreateTopics(r)}
	case *kmsg.DeleteTopicsRequest:
		return pending{resp: c.handleDeleteTopics(r)}
	case *kmsg.CreatePartitionsRequest:
		return pending{resp: c.handleCreatePartitions(r)}
	case *kmsg.DescribeConfigsRequest:
		return pending{resp: c.handleDescribeConfigs(r)}
	case *kmsg.ProduceRequest:
		return c.handleProduce(r)
	case *kmsg.InitProducerIDRequest:
		return pending{resp: c.handleInitProducerID(r)}
	case *kmsg.FetchRequest:
		return pending{resp: c.handleFetch(r)}
	case *kmsg.ListOffsetsRequest:
		return pending{resp: c.handleListOffsets(r)}
	case *kmsg.FindCoordinatorRequest:
		return pending{resp: c.handleFindCoordinator(r)}
	case *kmsg.JoinGroupRequest:
		return pending{resp: c.handleJoinGroup(r)}
	case *kmsg.SyncGroupRequest:
		return pending{resp: c.handleSyncGroup(r)}
	case *kmsg.HeartbeatRequest:
		return pending{resp: c.handleHeartbeat(r)}
	case *kmsg.LeaveGroupRequest:
		return pending{resp: c.handleLeaveGroup(r)}
	case *kmsg.OffsetCommitRequest:
		return pending{resp: c.handleOffsetCommit(r)}
	case *kmsg.OffsetFetchRequest:
		return pending{resp: c.handleOffsetFetch(r)}
	case *kmsg.ListGroupsRequest:
		return pending{resp: c.handleListGroups(r)}
	case *kmsg.DescribeGroupsRequest:
		return pending{resp: c.handleDescribeGroups(r)}
	case *kmsg.SASLHandshakeRequest:
		return c.handleSaslHandshake(r)
	case *kmsg.SASLAuthenticateRequest:
		return c.handleSaslAuthenticate(r)
	}
	// versionSupported admitted a key without a handler: a bug, answered
	// rather than dropped.
	resp, _ := errorResponse(req.Key(), req.GetVersion(), errUnsupportedVersion)
	return pending{resp: resp}
}

// writeLoop writes responses in order, batching those already complete
// into one write.
func (c *conn) writeLoop(done chan<- struct{}) {
	defer close(done)
	s := c.srv
	bw := bufio.NewWriterSize(c.nc, 32<<10)
	var buf []byte
	broken := false
	for p := range c.out {
		if broken {
			continue // drain so the reader never blocks
		}
		resp := p.resp
		if p.wait != nil {
			resp = p.wait()
		}
		switch {
		case p.raw != nil:
			buf = appendRawFrame(buf[:0], p.raw)
		case resp != nil:
			buf = appendResponse(buf[:0], p.correlationID, resp)
		default:
			buf = buf[:0]
		}
		if len(buf) > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
			if _, err := bw.Write(buf); err != nil {
				broken = true
				c.cancel()
				c.nc.Close()
				continue
			}
			s.stats.bytesOut.Add(uint64(len(buf)))
		}
		if len(c.out) == 0 || p.closeAfter {
			if err := bw.Flush(); err != nil {
				broken = true
				c.cancel()
				c.nc.Close()
				continue
			}
		}
		if p.closeAfter {
			broken = true
			c.cancel()
			c.nc.Close()
		}
		if cap(buf) > 1<<20 {
			buf = nil // do not keep a large fetch's buffer per connection
		}
	}
	if !broken {
		bw.Flush()
	}
}

// appendRawFrame frames a bare SASL v0 token.
func appendRawFrame(dst, token []byte) []byte {
	n := len(token)
	dst = append(dst, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(dst, token...)
}

func itoa(v int16) string { return strconv.Itoa(int(v)) }
