package conffile

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Typing of values written without quotes. A bare word is a boolean
// (true/false, yes/no, on/off, any case), an integer with an optional size
// suffix, a float (digits '.' digits), a datetime in full Zulu form
// (2006-01-02T15:04:05Z), or else a string: 4222abc, 1.5e3, 10s and
// 10.0.0.1:4222 are strings. Quoted text is always a string.

// sizeSuffixes are the multipliers of integer suffixes, as the reference
// server has them: a bare letter is a power of 1000, with b, i or ib a
// power of 1024. Case does not matter.
var sizeSuffixes = map[string]int64{
	"k": 1e3, "kb": 1 << 10, "ki": 1 << 10, "kib": 1 << 10,
	"m": 1e6, "mb": 1 << 20, "mi": 1 << 20, "mib": 1 << 20,
	"g": 1e9, "gb": 1 << 30, "gi": 1 << 30, "gib": 1 << 30,
	"t": 1e12, "tb": 1 << 40, "ti": 1 << 40, "tib": 1 << 40,
	"p": 1e15, "pb": 1 << 50, "pi": 1 << 50, "pib": 1 << 50,
	"e": 1e18, "eb": 1 << 60, "ei": 1 << 60, "eib": 1 << 60,
}

// bareScalar types a bare word found at pos.
func bareScalar(word string, pos Pos) (*Value, error) {
	v := &Value{Pos: pos, Raw: word, Kind: KindString, Str: word}
	switch strings.ToLower(word) {
	case "true", "yes", "on":
		v.Kind, v.Bool = KindBool, true
		return v, nil
	case "false", "no", "off":
		v.Kind, v.Bool = KindBool, false
		return v, nil
	}
	digits := leadingDigits(word)
	if digits == 0 {
		return v, nil
	}
	rest := word[digits:]
	switch {
	case rest == "" || isSizeSuffix(rest):
		return sizedInt(v, word[:digits], rest)
	case rest[0] == '.' && isDigits(rest[1:]):
		f, err := strconv.ParseFloat(word, 64)
		if err != nil {
			return nil, errorAt(pos, "number %s is out of range", word)
		}
		v.Kind, v.Float = KindFloat, f
	case isDatetime(word):
		t, err := time.Parse("2006-01-02T15:04:05Z", word)
		if err != nil {
			return nil, errorAt(pos, "invalid datetime %s: %v", word, err)
		}
		v.Kind, v.Time = KindTime, t
	}
	return v, nil
}

// leadingDigits is the length of an optional '-' and the digits after
// it; 0 when there are no digits.
func leadingDigits(w string) int {
	i := 0
	if strings.HasPrefix(w, "-") {
		i = 1
	}
	n := i
	for n < len(w) && w[n] >= '0' && w[n] <= '9' {
		n++
	}
	if n == i {
		return 0
	}
	return n
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isSizeSuffix reports whether s has the shape of a size suffix: one of
// k m g t p e, then b and i in any mix. Whether it is a known suffix is
// for sizedInt to say.
func isSizeSuffix(s string) bool {
	if !strings.ContainsRune("kmgtpeKMGTPE", rune(s[0])) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !strings.ContainsRune("biBI", rune(s[i])) {
			return false
		}
	}
	return true
}

func sizedInt(v *Value, digits, suffix string) (*Value, error) {
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return nil, errorAt(v.Pos, "integer %s is out of range", v.Raw)
	}
	if suffix != "" {
		mult, ok := sizeSuffixes[strings.ToLower(suffix)]
		if !ok {
			return nil, errorAt(v.Pos, "unknown size suffix in %s: use k, kb, m, mb, g, gb, t, tb, p, pb, e or eb", v.Raw)
		}
		if n > math.MaxInt64/mult || n < math.MinInt64/mult {
			return nil, errorAt(v.Pos, "size %s is out of range", v.Raw)
		}
		n *= mult
	}
	v.Kind, v.Int = KindInt, n
	return v, nil
}

// isDatetime reports the shape 2006-01-02T15:04:05Z.
func isDatetime(w string) bool {
	const shape = "0000-00-00T00:00:00Z"
	if len(w) != len(shape) {
		return false
	}
	for i := 0; i < len(w); i++ {
		if shape[i] == '0' {
			if w[i] < '0' || w[i] > '9' {
				return false
			}
		} else if w[i] != shape[i] {
			return false
		}
	}
	return true
}
