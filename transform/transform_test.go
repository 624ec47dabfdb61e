package transform

import (
	"errors"
	"hash/fnv"
	"strconv"
	"testing"
)

func TestMatchMapsSubjects(t *testing.T) {
	fnvMod := func(s string, n uint32) string {
		h := fnv.New32a()
		h.Write([]byte(s))
		return strconv.FormatUint(uint64(h.Sum32()%n), 10)
	}
	cases := []struct {
		src, dest, subject, want string
	}{
		{"", "", "a.b", "a.b"},
		{">", "copy.>", "a.b", "copy.a.b"},
		{"orders.>", "archive.orders.>", "orders.eu.1", "archive.orders.eu.1"},
		{"foo.*.*", "bar.$2.$1", "foo.a.b", "bar.b.a"},
		{"foo.*.*", "bar.{{wildcard(2)}}.{{ Wildcard( 1 ) }}", "foo.a.b", "bar.b.a"},
		{"foo", "bar", "foo", "bar"},
		{"foo.*", "bar.{{split(1,-)}}", "foo.-a--b-c-", "bar.a.b.c"},
		{"foo.*", "bar.{{splitfromleft(1,3)}}", "foo.abcdef", "bar.abc.def"},
		{"foo.*", "bar.{{SplitFromRight(1,2)}}", "foo.abcdef", "bar.abcd.ef"},
		{"foo.*", "bar.{{splitfromleft(1,9)}}", "foo.abc", "bar.abc"},
		{"foo.*", "bar.{{slicefromleft(1,2)}}", "foo.1234567", "bar.12.34.56.7"},
		{"foo.*", "bar.{{slicefromright(1,2)}}", "foo.1234567", "bar.1.23.45.67"},
		{"foo.*", "bar.{{left(1,2)}}", "foo.abcdef", "bar.ab"},
		{"foo.*", "bar.{{right(1,2)}}", "foo.abcdef", "bar.ef"},
		{"foo.*.*", "p.{{partition(3,1,2)}}.$1", "foo.x.y", "p." + fnvMod("xy", 3) + ".x"},
		{"foo.*", "p.{{partition(5)}}", "foo.k", "p." + fnvMod("foo.k", 5)},
		{"foo.*.>", "bar.$1.>", "foo.a.b.c", "bar.a.b.c"},
		{"$foo.*", "$bar.$1", "$foo.x", "$bar.x"},
	}
	for _, c := range cases {
		tr, err := New(c.src, c.dest)
		if err != nil {
			t.Fatalf("New(%q, %q): %v", c.src, c.dest, err)
		}
		got, ok := tr.Match(c.subject)
		if !ok || got != c.want {
			t.Errorf("%q -> %q on %q = %q, %v; want %q", c.src, c.dest, c.subject, got, ok, c.want)
		}
	}
}

func TestMatchRefusesOtherSubjects(t *testing.T) {
	tr, err := New("orders.*", "o.$1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"orders", "orders.a.b", "other.a"} {
		if got, ok := tr.Match(s); ok {
			t.Errorf("Match(%q) = %q, want no match", s, got)
		}
	}
}

func TestRandomStaysInRange(t *testing.T) {
	tr, err := New("r.*", "r.{{random(3)}}.$1")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i := 0; i < 300; i++ {
		got, _ := tr.Match("r.x")
		seen[got] = true
	}
	for s := range seen {
		if s != "r.0.x" && s != "r.1.x" && s != "r.2.x" {
			t.Fatalf("random produced %q", s)
		}
	}
}

func TestInvalidTransforms(t *testing.T) {
	cases := []struct {
		src, dest string
		want      error
	}{
		{"foo..bar", "x", ErrInvalidSource},
		{"foo", "a..b", ErrInvalidDestination},
		{"foo.*", "bar.*", ErrInvalidDestination},
		{"foo.>", "bar", ErrWildcardMismatch},
		{"foo", "bar.>", ErrWildcardMismatch},
		{"foo.*", "bar.$2", ErrIndexOutOfRange},
		{"foo", "bar.$1", ErrIndexOutOfRange},
		{"foo.*", "bar.{{nosuch(1)}}", ErrUnknownFunction},
		{"foo.*", "bar.{{wildcard(a)}}", ErrInvalidArgument},
		{"foo.*", "bar.{{left(1)}}", ErrArgumentCount},
		{"foo.*", "bar.{{split(1,.)}}", ErrInvalidArgument},
	}
	for _, c := range cases {
		if _, err := New(c.src, c.dest); !errors.Is(err, c.want) {
			t.Errorf("New(%q, %q) = %v, want %v", c.src, c.dest, err, c.want)
		}
	}
}

func TestStrictTransformsAreReversible(t *testing.T) {
	if _, err := NewStrict("a.*.*", "b.$2.$1"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewStrict("a.*.*", "b.$1"); !errors.Is(err, ErrNotReversible) {
		t.Fatalf("unused wildcard: %v", err)
	}
	if _, err := NewStrict("a.*", "b.{{partition(2,1)}}"); !errors.Is(err, ErrNotReversible) {
		t.Fatalf("function: %v", err)
	}
}

func FuzzTransform(f *testing.F) {
	f.Add("foo.*.>", "bar.$1.>", "foo.a.b")
	f.Add("foo.*", "x.{{split(1,-)}}", "foo.a-b")
	f.Add("a.*", "{{partition(0)}}.{{slicefromright(1,0)}}", "a.b")
	f.Fuzz(func(t *testing.T, src, dest, subject string) {
		tr, err := New(src, dest)
		if err != nil {
			return
		}
		tr.Match(subject) // must not panic
	})
}
