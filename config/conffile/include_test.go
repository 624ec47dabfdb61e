package conffile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// memFiles serves included files from a map, keyed by cleaned path.
func memFiles(files map[string]string) func(string) ([]byte, error) {
	return func(path string) ([]byte, error) {
		text, ok := files[filepath.Clean(path)]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
		}
		return []byte(text), nil
	}
}

func TestIncludeResolvesNextToTheIncludingFile(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		t.Helper()
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "port: 1\ninclude conf.d/auth.conf\nauthorization {\n  include 'conf.d/users.conf'\n}\n")
	write("conf.d/auth.conf", "include \"more.conf\"\nname: a\n")
	write("conf.d/more.conf", "more: yes\n")
	write("conf.d/users.conf", "users: [ {user: u} ]\n")
	m, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := `port@1:1=1; more@1:1=true; name@2:1="a"; authorization@3:1={users@1:1=[{user@1:11="u"}]}`
	if got := dump(m); got != want {
		t.Fatalf("\n got  %s\n want %s", got, want)
	}
	name, _ := m.Get("name")
	if name.KeyPos.File != filepath.Join(dir, "conf.d/auth.conf") {
		t.Fatalf("name comes from %q", name.KeyPos.File)
	}
}

func TestIncludeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"error inside an included file names it", map[string]string{
			"main.conf":  "a: 1\ninclude users.conf\n",
			"users.conf": "users: [\n  {user: a}\n  {user: b\n]\n",
		}, "users.conf:4:1: unexpected ']' in the map opened at 3:3 (included from main.conf:2:1)"},
		{"nested includes list the chain", map[string]string{
			"main.conf": "include a.conf", "a.conf": "x: 1\ninclude b.conf", "b.conf": "}",
		}, "b.conf:1:1: unexpected '}': there is no open '{' for it to close (included from a.conf:2:1, main.conf:1:1)"},
		{"missing file", map[string]string{"main.conf": "x: 1\n  include nope.conf\n"},
			"main.conf:2:3: cannot read included file nope.conf: file does not exist"},
		{"a file including itself", map[string]string{"main.conf": "include main.conf"},
			"main.conf:1:1: include cycle: "},
		{"a cycle of two", map[string]string{"main.conf": "include a.conf", "a.conf": "include main.conf"},
			"a.conf:1:1: include cycle: "},
		{"include inside an array is not a directive", map[string]string{"main.conf": "a: [ include x ]"},
			"main.conf:1:14: expected ',' or ']' after an array element"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Options{ReadFile: memFiles(tc.files), LookupEnv: noEnv}.ParseFile("main.conf")
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v", err, err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("\n got  %v\n want %s...", err, tc.want)
			}
		})
	}
}

func TestIncludeDepthIsBounded(t *testing.T) {
	files := map[string]string{"main.conf": "include f0.conf"}
	for i := 0; i < 40; i++ {
		files[filepath.Clean("f"+strconv.Itoa(i)+".conf")] = "include f" + strconv.Itoa(i+1) + ".conf"
	}
	_, err := Options{ReadFile: memFiles(files)}.ParseFile("main.conf")
	if err == nil || !strings.Contains(err.Error(), "includes are nested deeper than 16 files") {
		t.Fatalf("err = %v", err)
	}
}

func TestIncludeSeesEarlierVariablesAndDefinesLaterOnes(t *testing.T) {
	files := map[string]string{
		"main.conf":  "PASS: s3cret\ninclude users.conf\nother: $U\n",
		"users.conf": "U: bob\nuser: $U\npassword: $PASS\n",
	}
	m, err := Options{ReadFile: memFiles(files), LookupEnv: noEnv}.ParseFile("main.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := `PASS@1:1="s3cret"; U@1:1="bob"; user@2:1="bob"; password@3:1="s3cret"; other@3:1="bob"`
	if got := dump(m); got != want {
		t.Fatalf("\n got  %s\n want %s", got, want)
	}
}

func TestReadingTheTopFileFails(t *testing.T) {
	_, err := ParseFile(filepath.Join(t.TempDir(), "missing.conf"))
	var pe *ParseError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %T %v", err, err)
	}
}
