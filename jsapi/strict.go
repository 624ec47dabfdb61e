package jsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Strict reading of create requests, as the reference server reads them
// by default: a field it does not know, at the top level or inside the
// objects it decodes, refuses the request with "invalid JSON: json:
// unknown field", and so does a policy name it does not know. The known
// fields are the reference server's, not only those midge acts on, so
// that a client sending a field midge ignores is not refused where the
// reference accepts it.

// streamRequestFields are a stream configuration's fields, plus the
// request's own "pedantic".
var streamRequestFields = fieldSet(
	"name", "description", "subjects", "retention", "max_consumers", "max_msgs", "max_bytes",
	"max_age", "max_msgs_per_subject", "max_msg_size", "discard", "storage", "num_replicas",
	"no_ack", "duplicate_window", "placement", "mirror", "sources", "compression", "first_seq",
	"subject_transform", "republish", "allow_direct", "mirror_direct", "discard_new_per_subject",
	"sealed", "deny_delete", "deny_purge", "allow_rollup_hdrs", "consumer_limits", "allow_msg_ttl",
	"subject_delete_marker_ttl", "allow_msg_counter", "allow_atomic", "allow_msg_schedules",
	"persist_mode", "allow_batched", "metadata", "pedantic",
)

// nestedStreamFields are the fields of the objects inside a stream
// configuration that are checked too.
var nestedStreamFields = map[string]map[string]bool{
	"consumer_limits": fieldSet("inactive_threshold", "max_ack_pending"),
	"placement":       fieldSet("cluster", "tags", "preferred"),
}

var consumerRequestFields = fieldSet("stream_name", "config", "action", "pedantic")

var consumerConfigFields = fieldSet(
	"durable_name", "name", "description", "deliver_policy", "opt_start_seq", "opt_start_time",
	"ack_policy", "ack_wait", "max_deliver", "backoff", "filter_subject", "filter_subjects",
	"replay_policy", "rate_limit_bps", "sample_freq", "max_waiting", "max_ack_pending",
	"flow_control", "headers_only", "max_batch", "max_expires", "max_bytes", "deliver_subject",
	"deliver_group", "idle_heartbeat", "inactive_threshold", "num_replicas", "mem_storage",
	"direct", "sourcing", "metadata", "pause_until", "priority_groups", "priority_policy",
	"priority_timeout",
)

// policyValues are the names each policy field takes ("" is taken as the
// default, as an absent field).
var policyValues = map[string]map[string]bool{
	"retention":      fieldSet("limits", "interest", "workqueue"),
	"discard":        fieldSet("old", "new"),
	"storage":        fieldSet("file", "memory"),
	"ack_policy":     fieldSet("none", "all", "explicit"),
	"deliver_policy": fieldSet("all", "undefined", "last", "new", "by_start_sequence", "by_start_time", "last_per_subject"),
	"replay_policy":  fieldSet("instant", "original"),
}

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// strictStreamRequest checks a stream create or update body.
func strictStreamRequest(body []byte) *apiError {
	fields, ok := objectFields(body)
	if !ok {
		return nil // not an object: the decoder's own error says why
	}
	for _, f := range fields {
		if !streamRequestFields[f.name] {
			return unknownField(f.name)
		}
		if known, nested := nestedStreamFields[f.name]; nested {
			if e := checkFields(f.value, known); e != nil {
				return e
			}
		}
		if e := checkPolicy(f); e != nil {
			return e
		}
		if f.name == "compression" {
			var v string
			if json.Unmarshal(f.value, &v) == nil && v != "" && v != "none" && v != "s2" {
				return jsErrInvalidJSON.with("unknown compression algorithm")
			}
		}
	}
	return nil
}

// strictConsumerRequest checks a consumer create body.
func strictConsumerRequest(body []byte) *apiError {
	fields, ok := objectFields(body)
	if !ok {
		return nil
	}
	for _, f := range fields {
		if !consumerRequestFields[f.name] {
			return unknownField(f.name)
		}
		if f.name != "config" {
			continue
		}
		cfg, ok := objectFields(f.value)
		if !ok {
			continue
		}
		for _, c := range cfg {
			if !consumerConfigFields[c.name] {
				return unknownField(c.name)
			}
			if e := checkPolicy(c); e != nil {
				return e
			}
		}
	}
	return nil
}

func checkFields(obj json.RawMessage, known map[string]bool) *apiError {
	fields, _ := objectFields(obj)
	for _, f := range fields {
		if !known[f.name] {
			return unknownField(f.name)
		}
	}
	return nil
}

// checkPolicy refuses an unknown name in a policy field, in the reference
// server's words. Discard policies are read without regard to case.
func checkPolicy(f field) *apiError {
	names, ok := policyValues[f.name]
	if !ok {
		return nil
	}
	var v string
	if json.Unmarshal(f.value, &v) != nil || v == "" {
		return nil // a type error is the decoder's to report
	}
	if f.name == "discard" {
		v = strings.ToLower(v)
	}
	if names[v] {
		return nil
	}
	return jsErrInvalidJSON.with(fmt.Sprintf("can not unmarshal %q", string(bytes.TrimSpace(f.value))))
}

func unknownField(name string) *apiError {
	return jsErrInvalidJSON.with(fmt.Sprintf("json: unknown field %q", name))
}

// field is one member of a JSON object, in document order.
type field struct {
	name  string
	value json.RawMessage
}

// objectFields lists the members of the JSON object raw in order; ok is
// false when raw is not a well-formed object.
func objectFields(raw []byte) (fields []field, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		fields = append(fields, field{name, v})
	}
	return fields, true
}
