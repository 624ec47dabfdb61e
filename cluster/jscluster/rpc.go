package jscluster

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/midgemq/midge/cluster/route"
)

// A small request/response layer over the route channels, for what is not
// raft: forwarded API requests, catch-up reads, and the membership
// requests of bootstrap and repair.
//
//	request  (channel "jsc.req"):  id u64, method u8, body
//	response (channel "jsc.resp"): id u64, status u8 (0 ok, 1 error text), body
//
// Handlers run on a bounded pool of goroutines, never on the route's read
// loop; a request that finds the pool full is refused at once.

const (
	chanReq  = "jsc.req"
	chanResp = "jsc.resp"
	// rpcWorkers bounds the requests served at once.
	rpcWorkers = 16
)

type method uint8

const (
	mForward       method = iota + 1 // an API request to handle here; no response
	mCatchupMsgs                     // messages of a stream from a sequence on
	mCatchupDelete                   // the sequences a stream no longer holds
	mFoundMeta                       // the founders of the meta group
	mJoinMeta                        // a server asks the meta leader to be added
	mRebuild                         // a replica asks its stream leader to be rebuilt
	mJoinGroup                       // the leader tells a server to join a group now
	mReady                           // a learner tells its leader it caught up
	mLeave                           // a server no longer placed asks to be removed
	mLeft                            // the leader tells a server its removal is committed
)

var errRemote = errors.New("remote error")

// The membership requests (mRebuild, mJoinGroup, mReady, mLeave, mLeft)
// carry one group id.

func groupBody(gid uint64) []byte { return binary.LittleEndian.AppendUint64(nil, gid) }

func readGroupBody(body []byte) (uint64, error) {
	if len(body) != 8 {
		return 0, errBadEntry
	}
	return binary.LittleEndian.Uint64(body), nil
}

type rpcHandler func(from string, body []byte) ([]byte, error)

type rpc struct {
	routes   *route.Manager
	handlers map[method]rpcHandler
	sem      chan struct{}

	next    atomic.Uint64
	mu      sync.Mutex
	waiting map[uint64]chan rpcResult
}

type rpcResult struct {
	body []byte
	err  error
}

// newRPC serves handlers (fixed from here on) on the routes' channels.
func newRPC(routes *route.Manager, handlers map[method]rpcHandler) *rpc {
	r := &rpc{routes: routes, handlers: handlers, sem: make(chan struct{}, rpcWorkers),
		waiting: make(map[uint64]chan rpcResult)}
	routes.Handle(chanReq, r.onRequest)
	routes.Handle(chanResp, r.onResponse)
	return r
}

// send sends a request that expects no response.
func (r *rpc) send(peer string, m method, body []byte) bool {
	return r.routes.SendTo(peer, chanReq, encodeReq(0, m, body))
}

// call sends a request and waits for its response.
func (r *rpc) call(ctx context.Context, peer string, m method, body []byte) ([]byte, error) {
	id := r.next.Add(1)
	ch := make(chan rpcResult, 1)
	r.mu.Lock()
	r.waiting[id] = ch
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.waiting, id)
		r.mu.Unlock()
	}()
	if !r.routes.SendTo(peer, chanReq, encodeReq(id, m, body)) {
		return nil, errNoRoute
	}
	select {
	case res := <-ch:
		return res.body, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var errNoRoute = errors.New("no route to server")

func encodeReq(id uint64, m method, body []byte) []byte {
	b := make([]byte, 9, 9+len(body))
	binary.LittleEndian.PutUint64(b, id)
	b[8] = byte(m)
	return append(b, body...)
}

func (r *rpc) onRequest(from string, payload []byte) {
	if len(payload) < 9 {
		return
	}
	id, m := binary.LittleEndian.Uint64(payload), method(payload[8])
	fn := r.handlers[m]
	if fn == nil {
		return
	}
	body := bytes.Clone(payload[9:])
	select {
	case r.sem <- struct{}{}:
	default:
		if id != 0 {
			r.respond(from, id, nil, errors.New("busy"))
		}
		return
	}
	go func() {
		defer func() { <-r.sem }()
		out, err := fn(from, body)
		if id != 0 {
			r.respond(from, id, out, err)
		}
	}()
}

func (r *rpc) respond(to string, id uint64, body []byte, err error) {
	b := make([]byte, 9, 9+len(body))
	binary.LittleEndian.PutUint64(b, id)
	if err != nil {
		b[8] = 1
		b = append(b, err.Error()...)
	} else {
		b = append(b, body...)
	}
	r.routes.SendTo(to, chanResp, b)
}

func (r *rpc) onResponse(_ string, payload []byte) {
	if len(payload) < 9 {
		return
	}
	id := binary.LittleEndian.Uint64(payload)
	r.mu.Lock()
	ch := r.waiting[id]
	r.mu.Unlock()
	if ch == nil {
		return
	}
	res := rpcResult{body: bytes.Clone(payload[9:])}
	if payload[8] != 0 {
		res = rpcResult{err: errors.Join(errRemote, errors.New(string(payload[9:])))}
	}
	select {
	case ch <- res:
	default:
	}
}
