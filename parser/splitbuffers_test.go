package parser

import (
	"strings"
	"testing"
	"unsafe"
)

// lender is a recorder that lends buffers for split payloads of at least
// min bytes and remembers them.
type lender struct {
	recorder
	min    int
	lent   [][]byte
	inLent []bool // per PUB: was its payload in a lent buffer
}

func (l *lender) SplitBuffer(n int) []byte {
	if n < l.min {
		return nil
	}
	b := make([]byte, n)
	l.lent = append(l.lent, b)
	return b
}

func (l *lender) ProcessPub(pa *PubArg) error {
	in := false
	for _, b := range l.lent {
		start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		at := uintptr(unsafe.Pointer(unsafe.SliceData(pa.Data)))
		in = in || (len(pa.Data) > 0 && at >= start && at < start+uintptr(len(b)))
	}
	l.inLent = append(l.inLent, in)
	return l.recorder.ProcessPub(pa)
}

// A handler that lends buffers gets split payloads of the size it asked
// for gathered in a buffer of its own, a new one per payload (the parser
// never writes into a lent buffer after delivering from it); small split
// payloads, and payloads that fit in one read, use the parser's.
func TestSplitPayloadsGatheredInLentBuffers(t *testing.T) {
	l := &lender{min: 1000}
	p := New(l, DefaultLimits)
	big1, big2, small := strings.Repeat("x", 5000), strings.Repeat("y", 3000), strings.Repeat("z", 200)
	wire := "PUB a 5000\r\n" + big1 + "\r\nPUB b 200\r\n" + small + "\r\nPUB c 3000\r\n" + big2 + "\r\nPUB d 3\r\nabc\r\n"
	for b := []byte(wire); len(b) > 0; {
		n := min(len(b), 97)
		if err := p.Parse(b[:n]); err != nil {
			t.Fatal(err)
		}
		b = b[n:]
	}
	want := []rec{pub("a", "", big1), pub("b", "", small), pub("c", "", big2), pub("d", "", "abc")}
	if len(l.ops) != len(want) {
		t.Fatalf("got %d operations, want %d", len(l.ops), len(want))
	}
	for i := range want {
		if l.ops[i] != want[i] {
			t.Fatalf("op %d: %v, want %v", i, l.ops[i], want[i])
		}
	}
	if len(l.lent) != 2 || len(l.lent[0]) != 5002 || len(l.lent[1]) != 3002 {
		t.Fatalf("lent %d buffers, want two of the payloads' sizes plus CRLF", len(l.lent))
	}
	if wantIn := []bool{true, false, true, false}; !equalBools(l.inLent, wantIn) {
		t.Fatalf("payloads in lent buffers: %v, want %v", l.inLent, wantIn)
	}
	if strings.Trim(string(l.lent[0][:5000]), "x") != "" {
		t.Fatal("a lent buffer was written after its payload was delivered")
	}
	if p.InSplitPayload() {
		t.Fatal("still in a split payload after the last one")
	}
}

func equalBools(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A caller that reads the rest of a split payload straight into
// SplitSpace (as the broker's read loop does) gets the same operations as
// one that passes every byte to Parse, and never reads past the payload.
func TestSplitSpaceTakesTheRestOfThePayload(t *testing.T) {
	l := &lender{min: 1000}
	p := New(l, DefaultLimits)
	big1, big2 := strings.Repeat("x", 5000), strings.Repeat("y", 3000)
	wire := []byte("PUB a 5000\r\n" + big1 + "\r\nPUB b 2\r\nhi\r\nPUB c 3000\r\n" + big2 + "\r\nPING\r\n")
	filled := 0
	for len(wire) > 0 {
		n := min(len(wire), 1500)
		if space := p.SplitSpace(); space != nil {
			n = min(n, len(space))
			copy(space, wire[:n])
			filled += n
			if err := p.SplitFilled(n); err != nil {
				t.Fatal(err)
			}
		} else if err := p.Parse(wire[:n]); err != nil {
			t.Fatal(err)
		}
		wire = wire[n:]
	}
	want := []rec{pub("a", "", big1), pub("b", "", "hi"), pub("c", "", big2), {Kind: "PING"}}
	if len(l.ops) != len(want) {
		t.Fatalf("got %d operations, want %d: %v", len(l.ops), len(want), l.ops)
	}
	for i := range want {
		if l.ops[i] != want[i] {
			t.Fatalf("op %d: %v, want %v", i, l.ops[i], want[i])
		}
	}
	if filled == 0 || p.SplitSpace() != nil {
		t.Fatalf("filled %d bytes through SplitSpace; space left after the last payload: %v", filled, p.SplitSpace() != nil)
	}
}
