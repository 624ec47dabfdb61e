package mqtt

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the decoder. It must never panic or
// read past the packet; whatever it accepts must encode back into bytes that
// decode to the same packet; and a limit must be reported, never exceeded.
func FuzzDecode(f *testing.F) {
	for _, fx := range fixtures {
		f.Add(fx.raw)
	}
	f.Add([]byte{0x30, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 4096
		p, n, err := Decode(data, limit)
		if err != nil {
			var me *MalformedError
			var tl *TooLargeError
			if err != ErrIncomplete && !errors.As(err, &me) && !errors.As(err, &tl) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		if n < 2 || n > len(data) || n > limit+5 {
			t.Fatalf("used %d of %d bytes", n, len(data))
		}
		raw := Append(nil, p)
		p2, n2, err := Decode(raw, 0)
		if err != nil || n2 != len(raw) {
			t.Fatalf("re-encoded %#v does not decode: %v (% x)", p, err, raw)
		}
		if !reflect.DeepEqual(p, p2) {
			t.Fatalf("round trip changed the packet:\n%#v\n%#v", p, p2)
		}
	})
}

// FuzzTopic checks that the mapping is one-to-one where it accepts.
func FuzzTopic(f *testing.F) {
	for _, s := range []string{"a/b", "a//b", "$SYS/x", "a.b", "+/#", "a/#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if s, err := TopicToSubject(topic); err == nil {
			if back := SubjectToTopic(s); back != topic {
				t.Fatalf("%q -> %q -> %q", topic, s, back)
			}
		}
		subs, err := FilterToSubjects(topic)
		if err == nil && (len(subs) == 0 || len(subs) > 2) {
			t.Fatalf("%q -> %q", topic, subs)
		}
	})
}
