package conffile

import "errors"

// Variables. Any key of a map is also a variable: `$name` written as a
// value takes the value of the nearest key `name` defined before it in the
// maps that enclose the reference (arrays do not define variables), then
// the environment variable of that name. An environment variable's text is
// read as a value (so PORT=4222 gives an integer, LIST=[1,2] an array); text
// that is not one value, such as two words, is taken as a string.

func (p *parser) variable(name string, pos Pos) (*Value, error) {
	if name == "" {
		return nil, errorAt(pos, "'$' must be followed by a variable name")
	}
	for i := len(p.scopes) - 1; i >= 0; i-- {
		if e, ok := p.scopes[i].Get(name); ok {
			e.Referenced = true
			return p.reference(e.Value, name, pos), nil
		}
	}
	text, ok := p.opts.lookupEnv(name)
	if !ok {
		return nil, p.varError(pos, "variable $%s is not defined: no key %q before it and no such environment variable", name, name)
	}
	if p.envActive[name] {
		return nil, p.varError(pos, "environment variable %s refers to itself through $%s", name, name)
	}
	if p.envActive == nil {
		p.envActive = make(map[string]bool)
	}
	p.envActive[name] = true
	defer delete(p.envActive, name)
	v, err := p.envValue(text, pos)
	if err != nil {
		return nil, err
	}
	return p.reference(v, name, pos), nil
}

// reference is v as used through $name at pos. Scalars are copied; maps
// and arrays are shared, never copied, so that a value used many times
// costs nothing more.
func (p *parser) reference(v *Value, name string, pos Pos) *Value {
	c := *v
	c.Pos, c.Var = pos, name
	return &c
}

// envValue reads an environment variable's text as one value, at the
// position of the reference. Within it, variables resolve from the
// environment only.
func (p *parser) envValue(text string, pos Pos) (*Value, error) {
	outer, scopes := p.sc, p.scopes
	p.sc = &scanner{file: pos.File, src: text, line: pos.Line, col: pos.Col}
	p.scopes = nil
	defer func() { p.sc, p.scopes = outer, scopes }()

	p.sc.skipBlank(false)
	v, err := p.value("")
	if err == nil {
		p.sc.skipBlank(false)
		if p.sc.peek() == eof {
			return v, nil
		}
	}
	var pe *ParseError
	if errors.As(err, &pe) && pe.fromVariable {
		return nil, err
	}
	return &Value{Kind: KindString, Pos: pos, Str: text, Raw: text}, nil
}

func (p *parser) varError(pos Pos, format string, args ...any) *ParseError {
	e := errorAt(pos, format, args...)
	e.fromVariable = true
	return e
}
