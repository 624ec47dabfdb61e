package conffile

import (
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"
)

// The scanner is a cursor over one file's text that keeps the line and
// column of the next character. The parser decides what to read next
// (the format's tokens depend on where they appear: a ':' ends a key but
// not a value), so the scanner offers small readers rather than a token
// stream.

const eof = -1

type scanner struct {
	file string
	src  string
	off  int
	line int
	col  int
}

func newScanner(file, src string) *scanner {
	return &scanner{file: file, src: src, line: 1, col: 1}
}

func (s *scanner) pos() Pos { return Pos{File: s.file, Line: s.line, Col: s.col} }

// peek returns the next byte, or eof.
func (s *scanner) peek() int {
	if s.off >= len(s.src) {
		return eof
	}
	return int(s.src[s.off])
}

func (s *scanner) peekAt(n int) int {
	if s.off+n >= len(s.src) {
		return eof
	}
	return int(s.src[s.off+n])
}

// advance moves past one byte; the column counts characters, so only the
// first byte of a UTF-8 sequence moves it.
func (s *scanner) advance() {
	b := s.src[s.off]
	s.off++
	switch {
	case b == '\n':
		s.line++
		s.col = 1
	case b&0xC0 != 0x80:
		s.col++
	}
}

// next describes the next character for an error message.
func (s *scanner) next() string {
	switch c := s.peek(); c {
	case eof:
		return "the end of the file"
	case '\n', '\r':
		return "the end of the line"
	}
	r, _ := utf8.DecodeRuneInString(s.src[s.off:])
	return fmt.Sprintf("%q", r)
}

func isBlank(c int) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\v'
}

// isNewline: a carriage return ends a line as a new line does (only new
// lines count in line numbers).
func isNewline(c int) bool { return c == '\n' || c == '\r' }

// skipBlank skips spaces and comments, and new lines too when newlines is
// set. A comment ('#' or '//' to the end of the line) starts only where a
// token could start: inside a bare value those characters are text.
func (s *scanner) skipBlank(newlines bool) {
	for {
		c := s.peek()
		switch {
		case isBlank(c), isNewline(c) && newlines:
			s.advance()
		case c == '#', c == '/' && s.peekAt(1) == '/':
			for c := s.peek(); c != eof && !isNewline(c); c = s.peek() {
				s.advance()
			}
		default:
			return
		}
	}
}

// endsKey reports the bytes that end a key written without quotes.
func endsKey(c int) bool {
	switch c {
	case eof, ' ', '\t', '\r', '\n', '\f', '\v', ':', '=', '{', '}', '[', ']', ',', ';':
		return true
	}
	return false
}

// endsBare reports the bytes that end a value written without quotes.
func endsBare(c int) bool {
	switch c {
	case eof, ' ', '\t', '\r', '\n', ',', ';', ']', '}':
		return true
	}
	return false
}

// bareKey reads a key written without quotes.
func (s *scanner) bareKey() string {
	start := s.off
	for !endsKey(s.peek()) {
		s.advance()
	}
	return s.src[start:s.off]
}

// quoted reads a string between quote characters, the opening one not yet
// read. Double quotes take escapes when escapes is set; single quotes
// never do. A quoted string may span lines.
func (s *scanner) quoted(escapes bool) (string, error) {
	open := s.pos()
	q := s.src[s.off]
	s.advance()
	var b strings.Builder
	start := s.off
	for {
		c := s.peek()
		switch {
		case c == eof:
			return "", errorAt(open, "unterminated string: the %c opened here is never closed", q)
		case c == int(q):
			b.WriteString(s.src[start:s.off])
			s.advance()
			return b.String(), nil
		case c == '\\' && escapes:
			b.WriteString(s.src[start:s.off])
			if err := s.escape(&b); err != nil {
				return "", err
			}
			start = s.off
		default:
			s.advance()
		}
	}
}

// bare reads a value written without quotes, up to a space, a new line or
// one of , ; ] }. Backslash escapes are taken as in double quotes;
// escaped reports whether there were any (such a value is always a string).
func (s *scanner) bare() (text string, escaped bool, err error) {
	start := s.off
	var b strings.Builder
	for c := s.peek(); !endsBare(c); c = s.peek() {
		if c != '\\' {
			s.advance()
			continue
		}
		b.WriteString(s.src[start:s.off])
		if err := s.escape(&b); err != nil {
			return "", false, err
		}
		start = s.off
		escaped = true
	}
	if !escaped {
		return s.src[start:s.off], false, nil
	}
	b.WriteString(s.src[start:s.off])
	return b.String(), true, nil
}

// escape reads one backslash escape: \t \n \r \" \\ or \xHH.
func (s *scanner) escape(b *strings.Builder) error {
	at := s.pos()
	s.advance() // the backslash
	c := s.peek()
	switch c {
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'r':
		b.WriteByte('\r')
	case '"':
		b.WriteByte('"')
	case '\\':
		b.WriteByte('\\')
	case 'x':
		if s.off+3 > len(s.src) {
			return errorAt(at, `\x needs two hexadecimal digits`)
		}
		digits, err := hex.DecodeString(s.src[s.off+1 : s.off+3])
		if err != nil {
			return errorAt(at, `\x needs two hexadecimal digits, got %q`, s.src[s.off+1:s.off+3])
		}
		b.Write(digits)
		s.advance()
		s.advance()
	case eof, '\n', '\r':
		return errorAt(at, `a backslash ends the line: only \t \n \r \" \\ and \xHH are escapes`)
	default:
		return errorAt(at, `invalid escape \%s: only \t \n \r \" \\ and \xHH are escapes `+
			`(put the value in single quotes to keep backslashes as they are)`, strings.Trim(s.next(), `'`))
	}
	s.advance()
	return nil
}

// heredoc reads a block value: the text after '(' up to a line holding
// only ')', the last new line included.
func (s *scanner) heredoc() (string, error) {
	open := s.pos()
	s.advance() // the '('
	start := s.off
	for from := start; ; {
		i := strings.Index(s.src[from:], "\n)")
		if i < 0 {
			return "", errorAt(open, "unterminated block: the '(' opened here needs a line holding only ')'")
		}
		end := from + i + 1 // just after the new line
		if after := end + 1; after == len(s.src) || s.src[after] == '\n' || s.src[after] == '\r' {
			for s.off < end+1 {
				s.advance()
			}
			return s.src[start:end], nil
		}
		from = end
	}
}
