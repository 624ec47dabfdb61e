package config

import "strings"

// server_tags: a string or a list of strings, the placement tags of this
// server (a JetStream cluster places a stream whose placement names tags
// on servers that have them all). Tags are compared in lower case, as the
// reference server does.
func init() {
	topLevelKeys["server_tags"] = func(cp *configParser, o *Options, v cval) {
		for _, t := range cp.stringList(v) {
			if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
				o.ServerTags = append(o.ServerTags, t)
			}
		}
	}
}
