package conffile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dump renders a tree compactly: key@line:col=value, entries joined by
// "; ", strings quoted, floats with a decimal point, datetimes as t(...).
func dump(m *Map) string {
	parts := make([]string, 0, m.Len())
	for _, e := range m.Entries() {
		parts = append(parts, fmt.Sprintf("%s@%d:%d=%s", e.Key, e.KeyPos.Line, e.KeyPos.Col, dumpValue(e.Value)))
	}
	return strings.Join(parts, "; ")
}

func dumpValue(v *Value) string {
	switch v.Kind {
	case KindString:
		return strconv.Quote(v.Str)
	case KindInt:
		return strconv.FormatInt(v.Int, 10)
	case KindFloat:
		return strconv.FormatFloat(v.Float, 'f', -1, 64) + "f"
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindTime:
		return "t(" + v.Time.Format(time.RFC3339) + ")"
	case KindMap:
		return "{" + dump(v.Map) + "}"
	case KindArray:
		elems := make([]string, len(v.Array))
		for i, e := range v.Array {
			elems[i] = dumpValue(e)
		}
		return "[" + strings.Join(elems, " ") + "]"
	}
	return fmt.Sprintf("?%d", v.Kind)
}

// treeCases are texts and the trees they give; the fuzz target uses them
// as seeds.
var treeCases = []struct{ name, text, want string }{
	{"separators", "a: 1\nb = 2\nc 3\nd:4, e:5; f=6", "a@1:1=1; b@2:1=2; c@3:1=3; d@4:1=4; e@4:6=5; f@4:11=6"},
	{"map without separator", "auth {\n  user: a\n}\n", `auth@1:1={user@2:3="a"}`},
	{"map glued to key", "auth{user: a}", `auth@1:1={user@1:6="a"}`},
	{"map on next line", "auth\n{\n  user: a\n}", `auth@1:1={user@3:3="a"}`},
	{"nested maps", "a { b { c: 1 } }", "a@1:1={b@1:5={c@1:9=1}}"},
	{"map separators", "m { a: 1, b: 2; c: 3\n d: 4, }", "m@1:1={a@1:5=1; b@1:11=2; c@1:17=3; d@2:2=4}"},
	{"arrays", "a: [1, 2, 3]\nb: [1,2]\nc: [\n  x\n  y # c\n  // d\n  z,\n]\nd: []",
		`a@1:1=[1 2 3]; b@2:1=[1 2]; c@3:1=["x" "y" "z"]; d@9:1=[]`},
	{"array of maps", "u: [\n {user: a}\n {user: b, pass: c}\n]", `u@1:1=[{user@2:3="a"} {user@3:3="b"; pass@3:12="c"}]`},
	{"comments", "# top\na: 1 # after\n// slashes\nb: 2 // after\n  # indented\n", "a@2:1=1; b@4:1=2"},
	{"hash and slashes inside bare values", "a: x#y\nb: http://h/p", `a@1:1="x#y"; b@2:1="http://h/p"`},
	{"double quotes", `a: "x y"` + "\n" + `b: "t\tn\nq\"b\\x\x41"`, `a@1:1="x y"; b@2:1="t\tn\nq\"b\\xA"`},
	{"single quotes keep backslashes", `a: 'C:\data\x'`, `a@1:1="C:\\data\\x"`},
	{"quoted string spans lines", "a: \"one\ntwo\"\nb: 1", `a@1:1="one\ntwo"; b@3:1=1`},
	{"bare strings", "a: foo:bar\nb: x=y\nc: a\\tb\nd: 127.0.0.1:4222\ne: 4222abc\nf: 1.5e3\ng: 10s\nh: -x",
		`a@1:1="foo:bar"; b@2:1="x=y"; c@3:1="a\tb"; d@4:1="127.0.0.1:4222"; e@5:1="4222abc"; f@6:1="1.5e3"; g@7:1="10s"; h@8:1="-x"`},
	{"booleans", "a: true\nb: Off\nc: YES\nd: no\ne: \"true\"", `a@1:1=true; b@2:1=false; c@3:1=true; d@4:1=false; e@5:1="true"`},
	{"integers and floats", "a: 42\nb: -7\nc: 1.5\nd: -0.25\ne: 007", "a@1:1=42; b@2:1=-7; c@3:1=1.5f; d@4:1=-0.25f; e@5:1=7"},
	{"size suffixes", "a: 1k\nb: 1K\nc: 1kb\nd: 1KiB\ne: 2m\nf: 2MB\ng: 1g\nh: 1GB\ni: 1t\nj: 1TB\nk: -2k\nl: 1e",
		"a@1:1=1000; b@2:1=1000; c@3:1=1024; d@4:1=1024; e@5:1=2000000; f@6:1=2097152; g@7:1=1000000000; h@8:1=1073741824; " +
			"i@9:1=1000000000000; j@10:1=1099511627776; k@11:1=-2000; l@12:1=1000000000000000000"},
	{"datetime", "a: 2026-01-02T03:04:05Z\nb: 2026-01-02", `a@1:1=t(2026-01-02T03:04:05Z); b@2:1="2026-01-02"`},
	{"heredoc", "a: (\nline1\n  line2\n)\nb: 2", `a@1:1="\nline1\n  line2\n"; b@5:1=2`},
	{"heredoc with a ) inside", "a: (\nf(x)\n )\n)", `a@1:1="\nf(x)\n )\n"`},
	{"quoted keys", `"a b": 1` + "\n'c d' = 2\n\"e:f\" 3", `a b@1:1=1; c d@2:1=2; e:f@3:1=3`},
	{"duplicate key keeps the last value, where last written", "a: 1\nb: 2\na: 3", "b@2:1=2; a@3:1=3"},
	{"keys are case-sensitive", "a: 1\nA: 2", "a@1:1=1; A@2:1=2"},
	{"variables", "v: 5\nm { v: 6, x: $v }\ny: $v", "v@1:1=5; m@2:1={v@2:5=6; x@2:11=6}; y@3:1=5"},
	{"variable holding a map", "p { a: 1 }\nq: $p", "p@1:1={a@1:5=1}; q@2:1={a@1:5=1}"},
	{"bcrypt hash is not a variable", "p: $2a$11$abc\nq: $2b$04$x", `p@1:1="$2a$11$abc"; q@2:1="$2b$04$x"`},
	{"json-like file", `{"a": 1, "b": {"c": [1,2]}}`, "a@1:2=1; b@1:10={c@1:16=[1 2]}"},
	{"json-like file with trailing text", "{\n a: 1\n}\nb: 2", "a@2:2=1; b@4:1=2"},
	{"crlf line ends", "a: 1\r\nb {\r\n c: x\r\n}\r\n", `a@1:1=1; b@2:1={c@3:2="x"}`},
	{"extra separators", "a: 1;;\n,b: 2", "a@1:1=1; b@2:2=2"},
	{"columns count characters", "é: 1; ü: 2", "é@1:1=1; ü@1:7=2"},
	{"include as a plain key", "include: 5", "include@1:1=5"},
	{"empty file", "", ""},
	{"only comments", "# nothing\n// here\n", ""},
}

func TestParseTree(t *testing.T) {
	for _, tc := range treeCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Options{LookupEnv: noEnv}.Parse("t.conf", tc.text)
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got := dump(m); got != tc.want {
				t.Errorf("\n got  %s\n want %s", got, tc.want)
			}
		})
	}
}

func noEnv(string) (string, bool) { return "", false }

// errorCases are texts and the start of the error they give; the fuzz
// target uses them as seeds.
var errorCases = []struct{ name, text, want string }{
	{"stray top-level brace", "port: 4222\n}\n", "t.conf:2:1: unexpected '}': there is no open '{' for it to close"},
	{"stray brace after a value", "a: 1 }", "t.conf:1:6: unexpected '}'"},
	{"extra brace after a map", "a: {b: 1}}\nc: 2", "t.conf:1:10: unexpected '}'"},
	{"stray bracket", "a: 1\n]", "t.conf:2:1: unexpected ']'"},
	{"unclosed map points at its opening", "a: 1\nauth {\n  user: x\n\nb: 2\n",
		`t.conf:2:6: the { opened here for "auth" is never closed: the file ends before its }`},
	{"unclosed inner map", "a {\n  b {\n    c: 1\n  }\n", `t.conf:1:3: the { opened here for "a" is never closed`},
	{"unclosed json wrapper", "{\n a: 1\n", "t.conf:1:1: the { opened here is never closed"},
	{"unclosed array", "x: 1\nlist: [1, 2\n", `t.conf:2:7: the [ opened here for "list" is never closed: the file ends before its ]`},
	{"unclosed double quote", "a: 1\nb: \"abc\nc: 2\n", `t.conf:2:4: unterminated string: the " opened here is never closed`},
	{"unclosed single quote", "a: 'abc", `t.conf:1:4: unterminated string: the ' opened here is never closed`},
	{"unclosed quoted key", "\"abc: 1", `t.conf:1:1: unterminated string`},
	{"unclosed heredoc", "a: (\nfoo\n", "t.conf:1:4: unterminated block"},
	{"key without value", "a: 1\nb\nc: 2", `t.conf:2:1: key "b" has no value`},
	{"key without value at the end", "a: 1\nb:", `t.conf:2:1: key "b" has no value`},
	{"key then separator then new line", "a =\n 5", `t.conf:1:1: key "a" has no value`},
	{"two values", `a: "x" "y"`, `t.conf:1:8: expected a new line, ',' or ';' after the value of "a", found '"'`},
	{"array missing element", "a: [1,,2]", "t.conf:1:7: missing array element before ','"},
	{"array leading comma", "a: [,1]", "t.conf:1:5: missing array element"},
	{"array elements without separator", "a: [{x: 1} {y: 2}]", "t.conf:1:12: expected ',' or ']' after an array element, found '{'"},
	{"brace closes an array", "a: [1, 2}", "t.conf:1:9: unexpected '}' in the array opened at 1:4"},
	{"invalid escape", `a: "C:\data"`, `t.conf:1:7: invalid escape \d`},
	{"invalid escape in bare value", `a: C:\data`, `t.conf:1:6: invalid escape \d`},
	{"bad hex escape", `a: "\xZZ"`, `t.conf:1:5: \x needs two hexadecimal digits, got "ZZ"`},
	{"integer out of range", "a: 99999999999999999999", "t.conf:1:4: integer 99999999999999999999 is out of range"},
	{"size out of range", "a: 9999999999T", "t.conf:1:4: size 9999999999T is out of range"},
	{"unknown size suffix", "a: 2kbb", "t.conf:1:4: unknown size suffix in 2kbb"},
	{"invalid datetime", "a: 2026-13-02T03:04:05Z", "t.conf:1:4: invalid datetime 2026-13-02T03:04:05Z"},
	{"undefined variable", "a: 1\nb: $nope", `t.conf:2:4: variable $nope is not defined`},
	{"variable used before it is defined", "x: $v\nv: 1", `t.conf:1:4: variable $v is not defined`},
	{"variable inside an array is not in scope", "a: [1]\nb: $a\nc: [ {d: 1}, $d ]", `t.conf:3:14: variable $d is not defined`},
	{"dollar alone", "a: $", `t.conf:1:4: '$' must be followed by a variable name`},
	{"missing key", "a: 1\n: 2", "t.conf:2:1: expected a key, found ':'"},
	{"include without path", "include \n", "t.conf:1:1: include needs the path of a file"},
	{"nesting bound", "a: " + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
		"t.conf:1:68: maps and arrays are nested deeper than 64 levels"},
}

func TestParseErrors(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Options{LookupEnv: noEnv}.Parse("t.conf", tc.text)
			if err == nil {
				t.Fatalf("parsed: %s", dump(m))
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("\n got  %v\n want %s...", err, tc.want)
			}
		})
	}
}

func TestValuePositions(t *testing.T) {
	m, err := Options{LookupEnv: noEnv}.Parse("t.conf", "v: [1, 2]\nlist: [\n  a\n  $v\n]\n")
	if err != nil {
		t.Fatal(err)
	}
	list, _ := m.Get("list")
	var got []string
	for _, e := range list.Value.Array {
		got = append(got, fmt.Sprintf("%s@%s var=%q", dumpValue(e), e.Pos, e.Var))
	}
	want := `"a"@t.conf:3:3 var=""|[1 2]@t.conf:4:3 var="v"`
	if strings.Join(got, "|") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, "|"), want)
	}
	if v, _ := m.Get("v"); !v.Referenced {
		t.Error("v is not marked as referenced")
	}
	if l, _ := m.Get("list"); l.Referenced {
		t.Error("list is marked as referenced")
	}
}

func TestValueInterface(t *testing.T) {
	m, err := Parse("t.conf", "s: x\ni: 1\nf: 1.5\nb: on\nt: 2026-01-02T03:04:05Z\nm {}\na: []")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range m.Entries() {
		got = append(got, fmt.Sprintf("%T/%s", e.Value.Interface(), e.Value.Kind))
	}
	want := "string/string int64/integer float64/float bool/boolean time.Time/datetime *conffile.Map/map []*conffile.Value/array"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %s", strings.Join(got, " "))
	}
}
