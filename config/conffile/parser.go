package conffile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// The grammar, as the reference server reads it:
//
//	file    = { entry sep } , with the whole file optionally inside { }
//	entry   = key [ ':' | '=' ] value | key map | "include" path
//	sep     = new line | ',' | ';'     (none needed before a closing '}')
//	value   = map | array | "string" | 'string' | ( block ) | $variable | bare
//	map     = '{' { entry sep } '}'
//	array   = '[' { value ( ',' | new line ) } ']'
//
// Comments run from '#' or '//' to the end of the line.

// MaxDepth bounds the nesting of maps and arrays; MaxIncludeDepth bounds
// include directives within included files. Real configurations stay far
// below both; the bounds keep hostile input from exhausting the stack.
const (
	MaxDepth        = 64
	MaxIncludeDepth = 16
)

// Options adjust where the parser reads from; the zero value reads files
// and the environment of the process.
type Options struct {
	// ReadFile reads an included file; nil means os.ReadFile.
	ReadFile func(path string) ([]byte, error)
	// LookupEnv resolves a $name no enclosing map defines; nil means
	// os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Parse reads configuration text. name is the file name positions carry;
// relative includes resolve against its directory.
func Parse(name, text string) (*Map, error) { return Options{}.Parse(name, text) }

// ParseFile reads a configuration file.
func ParseFile(path string) (*Map, error) { return Options{}.ParseFile(path) }

// ParseFile reads a configuration file.
func (o Options) ParseFile(path string) (*Map, error) {
	data, err := o.readFile(path)
	if err != nil {
		return nil, &ParseError{Pos: Pos{File: path}, Msg: "cannot read the file: " + withoutPath(err), Err: err}
	}
	return o.Parse(path, string(data))
}

// Parse reads configuration text; every error is a *ParseError.
func (o Options) Parse(name, text string) (*Map, error) {
	p := &parser{opts: o, sc: newScanner(name, text), files: []string{fileKey(name)}}
	root := newMap(Pos{File: name, Line: 1, Col: 1})
	p.scopes = []*Map{root}
	if err := p.body(root, nil, true); err != nil {
		return nil, err
	}
	root.seal()
	return root, nil
}

func (o Options) readFile(path string) ([]byte, error) {
	if o.ReadFile != nil {
		return o.ReadFile(path)
	}
	return os.ReadFile(path)
}

func (o Options) lookupEnv(name string) (string, bool) {
	if o.LookupEnv != nil {
		return o.LookupEnv(name)
	}
	return os.LookupEnv(name)
}

type parser struct {
	opts   Options
	sc     *scanner
	scopes []*Map // maps open around the current place, outermost first
	depth  int    // maps and arrays open

	files        []string // the file being read and those including it, for cycles
	includedFrom []Pos    // the include directives that led to the current file

	envActive map[string]bool // environment variables being expanded
}

// opener is a '{' or '[' not yet closed, for the error if it never is.
type opener struct {
	pos Pos
	key string // the key whose value it opens; "" in an array or at the top
}

// body reads entries into m up to the '}' of open, or to the end of the
// file when open is nil. top allows a brace-enclosed group of entries where
// a key is expected (a file written as one JSON-like object).
func (p *parser) body(m *Map, open *opener, top bool) error {
	s := p.sc
	for {
		s.skipBlank(true)
		pos := s.pos()
		switch c := s.peek(); {
		case c == ',' || c == ';':
			s.advance()
			continue
		case c == eof && open != nil:
			return p.unclosed(open, '{')
		case c == eof:
			return nil
		case c == '}' && open != nil:
			s.advance()
			return nil
		case c == '}':
			return errorAt(pos, "unexpected '}': there is no open '{' for it to close")
		case c == ']' && open != nil:
			return errorAt(pos, "unexpected ']' in the map opened at %d:%d", open.pos.Line, open.pos.Col)
		case c == ']':
			return errorAt(pos, "unexpected ']': there is no open '[' for it to close")
		case c == '{' && top:
			s.advance()
			if err := p.nest(pos); err != nil {
				return err
			}
			if err := p.body(m, &opener{pos: pos}, true); err != nil {
				return err
			}
			p.depth--
			continue
		}
		key, err := p.entry(m)
		if err != nil {
			return err
		}
		s.skipBlank(false)
		switch c := s.peek(); c {
		case '\n', '\r', ',', ';':
			s.advance()
		case eof, '}':
			// the loop ends the body or reports a stray '}'
		default:
			return errorAt(s.pos(), "expected a new line, ',' or ';' after the value of %q, found %s", key, s.next())
		}
	}
}

// nest counts one more open map or array.
func (p *parser) nest(pos Pos) error {
	if p.depth >= MaxDepth {
		return errorAt(pos, "maps and arrays are nested deeper than %d levels", MaxDepth)
	}
	p.depth++
	return nil
}

func (p *parser) unclosed(o *opener, c byte) error {
	closer := byte('}')
	if c == '[' {
		closer = ']'
	}
	if o.key != "" {
		return errorAt(o.pos, "the %c opened here for %q is never closed: the file ends before its %c", c, o.key, closer)
	}
	return errorAt(o.pos, "the %c opened here is never closed: the file ends before its %c", c, closer)
}

// entry reads one key and its value, or an include directive, into m and
// returns the key (or "include").
func (p *parser) entry(m *Map) (string, error) {
	s := p.sc
	keyPos := s.pos()
	var key string
	quoted := false
	if c := s.peek(); c == '"' || c == '\'' {
		k, err := s.quoted(false)
		if err != nil {
			return "", err
		}
		key, quoted = k, true
	} else {
		key = s.bareKey()
	}
	if key == "" && !quoted {
		return "", errorAt(keyPos, "expected a key, found %s", s.next())
	}
	s.skipBlank(false)
	c := s.peek()
	if !quoted && strings.EqualFold(key, "include") && c != ':' && c != '=' && c != '{' {
		return key, p.include(m, keyPos)
	}
	if c == ':' || c == '=' {
		s.advance()
		s.skipBlank(false)
		c = s.peek()
	}
	if isNewline(c) {
		// A map may open on the next line; anything else is a key without a value.
		saved := *s
		s.skipBlank(true)
		if s.peek() != '{' {
			*s = saved
		}
		c = s.peek()
	}
	switch c {
	case '\n', '\r', eof, ',', ';', '}', ']':
		return "", errorAt(keyPos, "key %q has no value", key)
	}
	v, err := p.value(key)
	if err != nil {
		return "", err
	}
	m.set(&Entry{Key: key, KeyPos: keyPos, Value: v})
	return key, nil
}

// value reads one value; key names it in errors ("" in an array).
func (p *parser) value(key string) (*Value, error) {
	s := p.sc
	pos := s.pos()
	switch s.peek() {
	case '{':
		return p.mapValue(key)
	case '[':
		return p.array(key)
	case '"', '\'':
		q := s.peek()
		str, err := s.quoted(q == '"')
		if err != nil {
			return nil, err
		}
		return &Value{Kind: KindString, Pos: pos, Str: str, Raw: str}, nil
	case '(':
		str, err := s.heredoc()
		if err != nil {
			return nil, err
		}
		return &Value{Kind: KindString, Pos: pos, Str: str, Raw: str}, nil
	}
	word, escaped, err := s.bare()
	switch {
	case err != nil:
		return nil, err
	case word == "":
		return nil, errorAt(pos, "expected a value, found %s", s.next())
	case escaped:
		return &Value{Kind: KindString, Pos: pos, Str: word, Raw: word}, nil
	case word[0] == '$' && !isBcrypt(word):
		return p.variable(word[1:], pos)
	}
	return bareScalar(word, pos)
}

func (p *parser) mapValue(key string) (*Value, error) {
	s := p.sc
	pos := s.pos()
	s.advance()
	if err := p.nest(pos); err != nil {
		return nil, err
	}
	m := newMap(pos)
	p.scopes = append(p.scopes, m)
	err := p.body(m, &opener{pos: pos, key: key}, false)
	p.scopes = p.scopes[:len(p.scopes)-1]
	p.depth--
	if err != nil {
		return nil, err
	}
	m.seal()
	return &Value{Kind: KindMap, Pos: pos, Map: m}, nil
}

func (p *parser) array(key string) (*Value, error) {
	s := p.sc
	open := &opener{pos: s.pos(), key: key}
	s.advance()
	if err := p.nest(open.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	elems := []*Value{}
	for {
		s.skipBlank(true)
		switch c := s.peek(); c {
		case ']':
			s.advance()
			return &Value{Kind: KindArray, Pos: open.pos, Array: elems}, nil
		case eof:
			return nil, p.unclosed(open, '[')
		case ',':
			return nil, errorAt(s.pos(), "missing array element before ','")
		case '}':
			return nil, errorAt(s.pos(), "unexpected '}' in the array opened at %d:%d", open.pos.Line, open.pos.Col)
		}
		v, err := p.value("")
		if err != nil {
			return nil, err
		}
		elems = append(elems, v)
		s.skipBlank(false)
		switch c := s.peek(); c {
		case ',', '\n', '\r':
			s.advance()
		case ']':
		case eof:
			return nil, p.unclosed(open, '[')
		case '}':
			return nil, errorAt(s.pos(), "unexpected '}' in the array opened at %d:%d", open.pos.Line, open.pos.Col)
		default:
			return nil, errorAt(s.pos(), "expected ',' or ']' after an array element, found %s", s.next())
		}
	}
}

// isBcrypt recognises a bcrypt hash written without quotes ($2a$...), which
// the reference server takes as a string rather than a variable.
func isBcrypt(word string) bool {
	return strings.HasPrefix(word, "$2a$") || strings.HasPrefix(word, "$2b$") || strings.HasPrefix(word, "$2y$")
}

// withoutPath is an error's text without the path an *fs.PathError
// repeats, for messages that already name the file.
func withoutPath(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// fileKey identifies a file for include cycles.
func fileKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}
