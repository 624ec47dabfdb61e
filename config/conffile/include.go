package conffile

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// include reads the file an include directive names into m, as if its
// entries were written in place of the directive. A relative path resolves
// against the directory of the file holding the directive. The included
// file sees the variables defined before the directive, and m gets its
// entries (variables included). Cycles and depth are bounded.
func (p *parser) include(m *Map, at Pos) error {
	s := p.sc
	var rel string
	switch c := s.peek(); c {
	case '"', '\'':
		path, err := s.quoted(false)
		if err != nil {
			return err
		}
		rel = path
	default:
		word, _, err := s.bare()
		if err != nil {
			return err
		}
		rel = word
	}
	if rel == "" {
		return errorAt(at, "include needs the path of a file")
	}
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(s.file), rel)
	}
	if len(p.includedFrom) >= MaxIncludeDepth {
		return errorAt(at, "includes are nested deeper than %d files", MaxIncludeDepth)
	}
	key := fileKey(path)
	for i, f := range p.files {
		if f == key {
			chain := append(append([]string{}, p.files[i:]...), key)
			return errorAt(at, "include cycle: %s", strings.Join(chain, " includes "))
		}
	}
	data, err := p.opts.readFile(path)
	if err != nil {
		return &ParseError{Pos: at, Msg: fmt.Sprintf("cannot read included file %s: %s", path, withoutPath(err)), Err: err}
	}

	outer, outerDepth := p.sc, p.depth
	p.sc = newScanner(path, string(data))
	p.files = append(p.files, key)
	p.includedFrom = append([]Pos{at}, p.includedFrom...)
	err = p.body(m, nil, true)
	p.sc, p.depth = outer, outerDepth
	p.files = p.files[:len(p.files)-1]
	p.includedFrom = p.includedFrom[1:]
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) && pe.Pos.File == path && len(pe.IncludedFrom) == 0 {
			pe.IncludedFrom = append([]Pos{at}, p.includedFrom...)
		}
		return err
	}
	return nil
}
