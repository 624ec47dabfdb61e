package parser

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"
)

// fuzzLimits are small so the fuzzer reaches the limit checks with short
// inputs; the other half of the runs use the defaults.
var fuzzLimits = Limits{MaxControlLine: 24, MaxPayload: 40}

// errKind names the class of a parse error so two feeds can be compared.
func errKind(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, ErrUnknownOp):
		return "unknown op"
	case errors.Is(err, ErrMaxControlLine):
		return "max control line"
	case errors.Is(err, ErrMaxPayload):
		return "max payload"
	case errors.Is(err, ErrBadArgs):
		return "bad args"
	}
	return "other: " + err.Error()
}

func FuzzParse(f *testing.F) {
	for _, fx := range fixtures {
		if len(fx.in) < 1000 {
			f.Add([]byte(fx.in), uint16(len(fx.in)/2), false)
		}
	}
	for _, fx := range errFixtures {
		if len(fx.in) < 1000 {
			f.Add([]byte(fx.in), uint16(len(fx.in)/3), true)
		}
	}
	f.Add([]byte("SUB "+longSubj+" 1\r\n"), uint16(4000), false)
	f.Fuzz(func(t *testing.T, data []byte, off uint16, small bool) {
		lim := DefaultLimits
		if small {
			lim = fuzzLimits
		}
		in := string(data)
		k := int(off) % (len(in) + 1)
		whole, werr := feedAll(lim, in)
		split, serr := feedAll(lim, in, k)
		if errKind(werr) != errKind(serr) {
			t.Fatalf("split at %d: error %q, whole: %q", k, errKind(serr), errKind(werr))
		}
		if !equalOps(whole, split) {
			t.Fatalf("split at %d:\n got %v\nwant %v", k, split, whole)
		}
		if len(in) <= 256 {
			bytewise, berr := feedBytewise(lim, in)
			if errKind(berr) != errKind(werr) || !equalOps(whole, bytewise) {
				t.Fatalf("bytewise: %q %v, whole: %q %v", errKind(berr), bytewise, errKind(werr), whole)
			}
		}
		lent, lerr := feedLending(lim, in, k+1)
		if errKind(lerr) != errKind(werr) || !equalOps(whole, lent) {
			t.Fatalf("lending, chunks of %d: %q %v, whole: %q %v", k+1, errKind(lerr), lent, errKind(werr), whole)
		}
		for _, op := range whole {
			if op.Kind == "PUB" && op.Size != len(op.Hdr)+len(op.Data) {
				t.Fatalf("size %d != %d+%d", op.Size, len(op.Hdr), len(op.Data))
			}
			if op.Size > lim.MaxPayload {
				t.Fatalf("payload %d over the limit", op.Size)
			}
		}
	})
}

// within reports whether sub lies inside buf's memory.
func within(sub, buf []byte) bool {
	if sub == nil {
		return true
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return len(buf) > 0 && p >= base && p+uintptr(len(sub)) <= base+uintptr(len(buf))
}

func FuzzHeaders(f *testing.F) {
	for _, s := range []string{hdrA, hdrDup, hdrEmpty, hdrStatus, "NATS/1.0 408 Request Timeout\r\nA: b\r\n\r\n",
		"NATS/1.0\r\nK:\r\r\n", "garbage", ""} {
		f.Add([]byte(s), "A")
		f.Add([]byte(s), "K1")
	}
	f.Fuzz(func(t *testing.T, hdr []byte, key string) {
		orig := bytes.Clone(hdr)
		v := HeaderValue(hdr, key)
		if !within(v, hdr) {
			t.Fatalf("HeaderValue(%q, %q) = %q is not a subslice of the input", hdr, key, v)
		}
		if HasHeader(hdr, key) != (v != nil) {
			t.Fatalf("HasHeader disagrees with HeaderValue for %q", key)
		}
		if v != nil && (key == "" || !bytes.Contains(hdr, []byte(key+":"))) {
			t.Fatalf("found %q without %q: in the block", v, key)
		}
		code, desc := HeaderStatus(hdr)
		if code < 0 || code > 999 || !within(desc, hdr) {
			t.Fatalf("HeaderStatus(%q) = %d %q", hdr, code, desc)
		}
		if !bytes.Equal(hdr, orig) {
			t.Fatal("input modified")
		}
	})
}

// feedLending feeds in, chunk bytes at a time, to a parser whose handler
// lends buffers for every split payload, reading the rest of each such
// payload through SplitSpace as the broker does.
func feedLending(limits Limits, in string, chunk int) ([]rec, error) {
	l := &lender{min: 1}
	p := New(l, limits)
	b := []byte(in)
	for len(b) > 0 {
		n := min(len(b), chunk)
		var err error
		if space := p.SplitSpace(); space != nil {
			n = min(n, len(space))
			copy(space, b[:n])
			err = p.SplitFilled(n)
		} else {
			err = p.Parse(b[:n])
		}
		if err != nil {
			return l.ops, err
		}
		b = b[n:]
	}
	return l.ops, nil
}
