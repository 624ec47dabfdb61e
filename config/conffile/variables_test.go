package conffile

import (
	"strconv"
	"strings"
	"testing"
)

func TestEnvironmentVariables(t *testing.T) {
	env := map[string]string{
		"PORT": "4222", "LIST": `[1, "x"]`, "WORDS": "hello world", "HOST": "0.0.0.0",
		"REF": "$HOST", "SELF": "$SELF", "LOOP_A": "$LOOP_B", "LOOP_B": "$LOOP_A",
		"MISSING_REF": "$NOPE", "EMPTY": "", "MAP": "{a: 1}",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct{ text, want string }{
		{"p: $PORT", "p@1:1=4222"},
		{"l: $LIST", `l@1:1=[1 "x"]`},
		{"w: $WORDS", `w@1:1="hello world"`},
		{"h: $HOST", `h@1:1="0.0.0.0"`},
		{"r: $REF", `r@1:1="0.0.0.0"`},
		{"e: $EMPTY", `e@1:1=""`},
		{"m: $MAP", "m@1:1={a@1:5=1}"},
		{"PORT: 1\np: $PORT", "PORT@1:1=1; p@2:1=1"}, // a key wins over the environment
		{"s: $SELF", "error: t.conf:1:4: environment variable SELF refers to itself"},
		{"s: $LOOP_A", "error: t.conf:1:4: environment variable LOOP_A refers to itself"},
		{"s: $MISSING_REF", "error: t.conf:1:4: variable $NOPE is not defined"},
	} {
		m, err := Options{LookupEnv: lookup}.Parse("t.conf", tc.text)
		got := ""
		if err != nil {
			got = "error: " + err.Error()
		} else {
			got = dump(m)
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q:\n got  %s\n want %s", tc.text, got, tc.want)
		}
	}
}

// A variable used many times is shared, not copied: nesting references
// does not multiply the work.
func TestVariablesAreSharedNotCopied(t *testing.T) {
	var b strings.Builder
	b.WriteString("v0: [1, 2, 3, 4, 5, 6, 7, 8]\n")
	for i := 1; i < 40; i++ {
		prev := "$v" + strconv.Itoa(i-1)
		b.WriteString("v" + strconv.Itoa(i) + ": [" + strings.Repeat(prev+", ", 7) + prev + "]\n")
	}
	m, err := Options{LookupEnv: noEnv}.Parse("t.conf", b.String())
	if err != nil {
		t.Fatal(err)
	}
	last, _ := m.Get("v39")
	inner, _ := m.Get("v38")
	if &last.Value.Array[0].Array[0] != &inner.Value.Array[0] {
		t.Fatal("a variable's array was copied")
	}
}
