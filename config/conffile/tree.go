// Package conffile owns the syntax of the configuration file format that
// NATS servers read: lexing, parsing, include directives and variables. It
// turns text into a tree of values (maps, arrays, strings, integers with
// their size suffixes applied, floats, booleans, datetimes), each carrying
// the file, line and column where it was written, and reports malformed
// text as a *ParseError at the place of the mistake. It knows nothing of
// what any key means: mapping keys to options, checking their types and
// reading durations from strings is the caller's job.
package conffile

import (
	"fmt"
	"time"
)

// Pos is a place in a configuration file. Line and Col count from 1; Col
// counts characters, not bytes.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string {
	switch {
	case p.Line == 0:
		return p.File
	case p.Col == 0:
		return fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Kind is the type of a Value.
type Kind uint8

// The kinds of value the format has.
const (
	KindString Kind = iota + 1
	KindInt
	KindFloat
	KindBool
	KindTime
	KindMap
	KindArray
)

var kindNames = [...]string{
	KindString: "string", KindInt: "integer", KindFloat: "float", KindBool: "boolean",
	KindTime: "datetime", KindMap: "map", KindArray: "array",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Value is one value of the tree. Only the field its Kind names is
// meaningful. Values are shared, not copied, where a variable is used more
// than once, so the tree must be treated as read-only.
type Value struct {
	Kind Kind
	// Pos is where the value starts; for a value written as $name, where
	// the reference is.
	Pos Pos

	Str   string
	Int   int64 // size suffixes applied: 1k is 1000, 1kb 1024
	Float float64
	Bool  bool
	Time  time.Time
	Map   *Map
	Array []*Value

	// Raw is a scalar's text as written, without quotes ("1MB", "yes"),
	// for messages about it.
	Raw string
	// Var is the variable's name when the value was written as $name.
	Var string
}

// Interface returns the value as a Go value: string, int64, float64, bool,
// time.Time, *Map or []*Value.
func (v *Value) Interface() any {
	switch v.Kind {
	case KindString:
		return v.Str
	case KindInt:
		return v.Int
	case KindFloat:
		return v.Float
	case KindBool:
		return v.Bool
	case KindTime:
		return v.Time
	case KindMap:
		return v.Map
	case KindArray:
		return v.Array
	}
	return nil
}

// Entry is one key of a map with its value.
type Entry struct {
	Key    string
	KeyPos Pos
	Value  *Value
	// Referenced is set when some $Key resolved to this entry: the entry
	// defines a variable, which a caller may accept as a key it does not know.
	Referenced bool
}

// Map is a map of the configuration: keys with their values, in the order
// they were written. Keys are case-sensitive here; a key written twice in
// the same map keeps its last value, as the reference server does, and
// appears where it was last written.
type Map struct {
	Pos     Pos // the '{', or the start of the file for the top level
	entries []*Entry
	index   map[string]int
	holes   int // entries replaced by a later one, nil until sealed
}

func newMap(pos Pos) *Map {
	return &Map{Pos: pos, index: make(map[string]int)}
}

// Entries returns the map's entries in the order written.
func (m *Map) Entries() []*Entry { return m.entries }

// Len is the number of distinct keys.
func (m *Map) Len() int { return len(m.entries) - m.holes }

// Get returns the entry of key, matched exactly.
func (m *Map) Get(key string) (*Entry, bool) {
	i, ok := m.index[key]
	if !ok {
		return nil, false
	}
	return m.entries[i], true
}

// set adds an entry; a key already present is replaced and moves to the end.
func (m *Map) set(e *Entry) {
	if i, ok := m.index[e.Key]; ok {
		m.entries[i] = nil
		m.holes++
	}
	m.index[e.Key] = len(m.entries)
	m.entries = append(m.entries, e)
}

// seal drops the places of replaced entries once the map is complete.
func (m *Map) seal() {
	if m.holes == 0 {
		return
	}
	kept := m.entries[:0]
	for _, e := range m.entries {
		if e != nil {
			m.index[e.Key] = len(kept)
			kept = append(kept, e)
		}
	}
	clear(m.entries[len(kept):])
	m.entries = kept
	m.holes = 0
}
