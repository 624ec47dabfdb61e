package multiraft

import (
	"context"
	"encoding/binary"
)

// Proposal is a proposal made with ProposeAsync: its outcome arrives on
// Done, with the same meaning as Propose's return values.
type Proposal struct{ p *proposal }

// ProposeAsync is Propose without waiting: proposals made one after the
// other from one goroutine enter the group's log in that order (unless a
// leader change drops them), so a caller can keep several in flight and
// still rely on their order. Wait, or Done then Result, gives the outcome.
func (gr *Group) ProposeAsync(data []byte) *Proposal {
	g := gr.g
	p := &proposal{id: g.h.nextID(), done: make(chan struct{})}
	p.data = make([]byte, proposalHeader+len(data))
	binary.LittleEndian.PutUint64(p.data, p.id)
	copy(p.data[proposalHeader:], data)
	g.push(func(in *inputs) { in.props = append(in.props, p) })
	return &Proposal{p: p}
}

// Done is closed once the proposal's outcome is known.
func (pr *Proposal) Done() <-chan struct{} { return pr.p.done }

// Result is the outcome once Done is closed: the state machine's Result
// for the entry, or why it was not applied (ErrDropped, a *NotLeaderError,
// ErrStopped, or the state machine's error).
func (pr *Proposal) Result() (any, error) {
	select {
	case <-pr.p.done:
		return pr.p.result, pr.p.err
	default:
		return nil, context.DeadlineExceeded
	}
}

// Wait waits for the outcome; a context that ends first leaves the
// proposal to be applied later or not at all.
func (pr *Proposal) Wait(ctx context.Context) (any, error) { return pr.p.wait(ctx) }
