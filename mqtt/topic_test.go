package mqtt

import (
	"errors"
	"slices"
	"testing"
)

func TestTopicToSubject(t *testing.T) {
	ok := map[string]string{
		"a":          "a",
		"a/b/c":      "a.b.c",
		"$SYS/x":     "$SYS.x",
		"ünï/cödé":   "ünï.cödé",
		"sensors/42": "sensors.42",
	}
	for topic, want := range ok {
		got, err := TopicToSubject(topic)
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; want %q", topic, got, err, want)
		}
		if back := SubjectToTopic(got); back != topic {
			t.Errorf("%q: back to %q", topic, back)
		}
	}
	for _, topic := range []string{"", "a//b", "/a", "a/", "a.b", "a b", "a\tb", "a/*", "x/>", "a/+", "a/#", "a\x7fb"} {
		if s, err := TopicToSubject(topic); !errors.Is(err, ErrUnmappable) {
			t.Errorf("%q: mapped to %q, want ErrUnmappable", topic, s)
		}
	}
}

func TestFilterToSubjects(t *testing.T) {
	ok := map[string][]string{
		"#":       {">"},
		"+":       {"*"},
		"a/+/c":   {"a.*.c"},
		"a/#":     {"a.>", "a"},
		"+/b/#":   {"*.b.>", "*.b"},
		"sport/x": {"sport.x"},
	}
	for filter, want := range ok {
		got, err := FilterToSubjects(filter)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: got %q, %v; want %q", filter, got, err, want)
		}
	}
	for _, filter := range []string{"a/#/b", "a+", "a/b#", "a//b", "a.b/#", "#/", "a/ b"} {
		if s, err := FilterToSubjects(filter); !errors.Is(err, ErrUnmappable) {
			t.Errorf("%q: mapped to %q, want ErrUnmappable", filter, s)
		}
	}
	if !WildcardFirst("#") || !WildcardFirst("+/a") || WildcardFirst("a/#") {
		t.Error("WildcardFirst")
	}
}
