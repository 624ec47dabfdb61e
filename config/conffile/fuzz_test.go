package conffile

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary text to the parser, with include files and
// environment variables served from memory (one file includes the fuzzed
// text again, one includes itself). It must return a tree or a
// *ParseError, never panic or hang, and every position it reports must lie
// in the text it came from.
func FuzzParse(f *testing.F) {
	for _, tc := range treeCases {
		f.Add(tc.text)
	}
	for _, tc := range errorCases {
		f.Add(tc.text)
	}
	for _, s := range []string{
		"include other.conf\nx: $O", "m { include 'self.conf' }", "include loop.conf",
		"a: $ENVMAP\nb: $ENVSELF", "p: $2a$11$xyz", "{ a { b [ { c: ( \nx\n) } ] } }",
		"a: \"\\x4", "a: 'unterminated", "a: 1kib\nb: -3E\nc: 0.0\nd: 2000-01-01T00:00:00Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		files := map[string]string{
			"self.conf":  text,
			"other.conf": "O: 1\nlist: [1, 2]\n",
			"loop.conf":  "include loop.conf",
		}
		env := map[string]string{"ENVMAP": "{a: [1, $ENVSELF]}", "ENVSELF": "$ENVSELF", "ENVTEXT": text}
		opts := Options{
			ReadFile:  memFiles(files),
			LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		}
		done := make(chan struct{})
		var m *Map
		var err error
		go func() {
			defer close(done)
			m, err = opts.Parse("main.conf", text)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Parse did not return within 10 s on %q", text)
		}
		files["main.conf"] = text
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			checkPos(t, files, pe.Pos)
			return
		}
		checkTree(t, files, m, 0)
	})
}

// checkTree walks the tree, not through values taken from variables
// (those are shared and were checked where they were defined).
func checkTree(t *testing.T, files map[string]string, m *Map, depth int) {
	if depth > MaxDepth+1 {
		t.Fatalf("tree deeper than %d", MaxDepth)
	}
	for _, e := range m.Entries() {
		if e == nil {
			t.Fatal("nil entry in a sealed map")
		}
		checkPos(t, files, e.KeyPos)
		checkValue(t, files, e.Value, depth)
	}
}

func checkValue(t *testing.T, files map[string]string, v *Value, depth int) {
	if v.Var != "" {
		return
	}
	checkPos(t, files, v.Pos)
	switch v.Kind {
	case KindMap:
		checkTree(t, files, v.Map, depth+1)
	case KindArray:
		for _, e := range v.Array {
			checkValue(t, files, e, depth+1)
		}
	case KindString, KindInt, KindFloat, KindBool, KindTime:
	default:
		t.Fatalf("value of kind %d", v.Kind)
	}
}

func checkPos(t *testing.T, files map[string]string, p Pos) {
	text, ok := files[p.File]
	if !ok {
		t.Fatalf("position in unknown file %q", p.File)
	}
	if p.Line < 1 || p.Col < 1 || p.Line > strings.Count(text, "\n")+1 {
		t.Fatalf("position %v outside its text", p)
	}
}
