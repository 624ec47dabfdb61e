package mqtt

import (
	"errors"
	"fmt"
	"strings"
)

// Topics and subjects. An MQTT topic's levels become a NATS subject's
// tokens: topic "a/b/c" is subject "a.b.c", and a filter's "+" and "#"
// become "*" and ">". The mapping is one-to-one on the topics it accepts;
// it refuses, rather than escapes, what NATS cannot carry the same way:
//
//   - empty levels ("a//b", "/a", "a/"): NATS has no empty tokens;
//   - "." in a level: it would split the level in two;
//   - "*" or ">" in a level: they are NATS wildcards;
//   - whitespace and control characters: NATS subjects cannot hold them;
//   - "+" or "#" that are not a whole level, "#" that is not last: invalid
//     MQTT filters [MQTT-4.7.1-2, -3].
//
// In the other direction a NATS subject's tokens become levels; a token
// that itself contains "/" therefore shows up as several levels.

// ErrUnmappable wraps every refusal of the mapping.
var ErrUnmappable = errors.New("topic cannot be mapped to a NATS subject")

func unmappable(topic, format string, args ...any) error {
	return fmt.Errorf("%w: %q: %s", ErrUnmappable, topic, fmt.Sprintf(format, args...))
}

// TopicToSubject maps a topic name (no wildcards) to the subject it is
// published on.
func TopicToSubject(topic string) (string, error) {
	return toSubject(topic, false)
}

// FilterToSubjects maps a topic filter to the subjects to subscribe. A
// filter ending in "/#" also matches its parent level in MQTT ("a/#"
// matches "a"), so it maps to two subjects: "a.>" and "a".
func FilterToSubjects(filter string) ([]string, error) {
	s, err := toSubject(filter, true)
	if err != nil {
		return nil, err
	}
	if parent, ok := strings.CutSuffix(s, ".>"); ok {
		return []string{s, parent}, nil
	}
	return []string{s}, nil
}

func toSubject(topic string, filter bool) (string, error) {
	if topic == "" {
		return "", unmappable(topic, "empty")
	}
	levels := strings.Split(topic, "/")
	for i, l := range levels {
		switch {
		case l == "":
			return "", unmappable(topic, "empty level")
		case filter && l == "+":
			levels[i] = "*"
		case filter && l == "#":
			if i != len(levels)-1 {
				return "", unmappable(topic, "'#' must be the last level")
			}
			levels[i] = ">"
		default:
			if err := checkLevel(topic, l); err != nil {
				return "", err
			}
		}
	}
	return strings.Join(levels, "."), nil
}

func checkLevel(topic, level string) error {
	for _, r := range level {
		switch {
		case r == '+' || r == '#':
			return unmappable(topic, "wildcard %q inside a level", r)
		case r == '.':
			return unmappable(topic, "'.' would split the level in NATS")
		case r == '*' || r == '>':
			return unmappable(topic, "%q is a NATS wildcard", r)
		case r <= ' ' || r == 0x7f || r == 0x85 || r == 0xa0 || r == 0x2028 || r == 0x2029:
			return unmappable(topic, "whitespace or control character")
		}
	}
	return nil
}

// SubjectToTopic maps a subject to the topic MQTT subscribers see.
func SubjectToTopic(subject string) string {
	return strings.ReplaceAll(subject, ".", "/")
}

// WildcardFirst reports whether a filter starts with a wildcard: such
// filters do not match topics that start with "$" [MQTT-4.7.2-1].
func WildcardFirst(filter string) bool {
	return filter != "" && (filter[0] == '+' || filter[0] == '#')
}
