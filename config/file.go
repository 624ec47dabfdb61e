package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/conf"
)

// This file reads nats-server's configuration format (through its conf
// package, in pedantic mode so every value carries its line) into Options.
// Every key midge understands has an entry in a section table; anything
// else is an error naming the key and its line, never silently ignored.
// Adding a key is adding one table entry.

// LoadConfigFile reads a configuration file into Options. Fields the file
// does not set keep their zero value, which New fills with defaults. It
// has no side effects, so a reload can call it again.
func LoadConfigFile(path string) (Options, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Options{}, &ConfigError{errs: []error{err}}
	}
	return parseConfig(string(data), path)
}

// ParseConfig reads configuration text; include directives are resolved
// against the working directory.
func ParseConfig(text string) (Options, error) {
	return parseConfig(text, "")
}

func parseConfig(text, path string) (opts Options, err error) {
	name := path
	if name == "" {
		name = "config"
	}
	// The conf package is a dependency parsing untrusted text; a panic in
	// it must not take the process down.
	defer func() {
		if r := recover(); r != nil {
			opts, err = Options{}, &ConfigError{errs: []error{fmt.Errorf("%s: cannot parse: %v", name, r)}}
		}
	}()
	m, err := parseConfText(text, path)
	if err != nil {
		return Options{}, &ConfigError{errs: []error{fmt.Errorf("%s: %w", name, err)}}
	}
	cp := &configParser{file: name}
	applySection(cp, &opts, m, topLevelKeys, "")
	cp.finishAuth(&opts)
	cp.finishWarnings(&opts)
	if len(cp.errs) > 0 {
		return Options{}, cp.err()
	}
	return opts, nil
}

// parseConfText parses with line information. With a path, the text is
// parsed as that file so relative includes resolve next to it.
func parseConfText(text, path string) (map[string]any, error) {
	if path == "" {
		return conf.ParseWithChecks(text)
	}
	return conf.ParseFileWithChecks(path)
}

// configParser collects errors, each with file and line, so one run
// reports every mistake in a file.
type configParser struct {
	file string
	errs []configError
	// users and nkeys found in accounts; merged into Auth at the end so
	// the order of the authorization and accounts blocks does not matter.
	accountUsers []User
	accountNkeys []NkeyUser
	tolerated    []string // harness keys accepted with a warning
}

type configError struct {
	line int
	msg  string
}

func (cp *configParser) errorf(v cval, format string, args ...any) {
	cp.errs = append(cp.errs, configError{v.line, fmt.Sprintf(format, args...)})
}

// ConfigError lists every problem found in a configuration file, one per
// line of its text, in line order.
type ConfigError struct{ errs []error }

func (e *ConfigError) Error() string { return errors.Join(e.errs...).Error() }

// Unwrap gives the individual problems.
func (e *ConfigError) Unwrap() []error { return e.errs }

func (cp *configParser) err() error {
	sort.SliceStable(cp.errs, func(i, j int) bool { return cp.errs[i].line < cp.errs[j].line })
	errs := make([]error, len(cp.errs))
	for i, e := range cp.errs {
		if e.line > 0 {
			errs[i] = fmt.Errorf("%s:%d: %s", cp.file, e.line, e.msg)
		} else {
			errs[i] = fmt.Errorf("%s: %s", cp.file, e.msg)
		}
	}
	return &ConfigError{errs: errs}
}

// cval is one configuration value with the line of its key.
type cval struct {
	v        any
	line     int
	variable bool // defined as a variable and used through $name
}

// confToken is what the conf package's pedantic mode wraps values in.
type confToken interface {
	Value() any
	Line() int
	IsUsedVariable() bool
}

func unwrap(x any) cval {
	if t, ok := x.(confToken); ok {
		return cval{v: t.Value(), line: t.Line(), variable: t.IsUsedVariable()}
	}
	return cval{v: x}
}

// keyHandler applies one key's value to the section's target.
type keyHandler[T any] func(cp *configParser, target *T, v cval)

// applySection dispatches each key of m (case-insensitively) through
// table, reporting keys the table lacks.
func applySection[T any](cp *configParser, target *T, m map[string]any, table map[string]keyHandler[T], section string) {
	for _, k := range sortedKeys(m) { // sorted: deterministic error order
		v := unwrap(m[k])
		h, ok := table[strings.ToLower(k)]
		if !ok {
			cp.unknownKey(k, v, section)
			continue
		}
		h(cp, target, v)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (cp *configParser) unknownKey(k string, v cval, section string) {
	if v.variable {
		return // a variable definition, used elsewhere by $name
	}
	where := ""
	if section != "" {
		where = " in " + section
	}
	if section == "" && toleratedHarnessKeys[strings.ToLower(k)] {
		cp.tolerate(k)
		return
	}
	if section == "" && unsupportedNatsKeys[strings.ToLower(k)] {
		cp.errorf(v, "%q is a nats-server option midge does not support", k)
		return
	}
	cp.errorf(v, "unknown configuration key %q%s", k, where)
}

// unsupportedNatsKeys are top-level nats-server options midge does not have
// (yet); naming them helps whoever brings a nats-server config along.
var unsupportedNatsKeys = map[string]bool{
	"gateway": true, "https": true, "https_port": true,
	"operator": true, "operators": true, "resolver": true, "system_account": true,
	"client_advertise": true,
	"syslog":           true, "remote_syslog": true, "logtime": true, "max_traced_msg_len": true,
	"ocsp": true, "allow_non_tls": true, "mappings": true, "no_sys_acc": true,
}

// topLevelKeys is the table of the file's outer level.
var topLevelKeys = map[string]keyHandler[Options]{
	"listen": func(cp *configParser, o *Options, v cval) {
		host, port, ok := cp.hostPort(v)
		if !ok {
			return
		}
		if host != "" { // `listen: 4222` leaves a host key's value alone
			o.Host = host
		}
		o.Port = port
	},
	"host":        strKey(func(o *Options) *string { return &o.Host }),
	"net":         strKey(func(o *Options) *string { return &o.Host }),
	"port":        clientPortKey,
	"server_name": serverNameKey,
	"debug":       boolKey(func(o *Options) *bool { return &o.Debug }),
	"trace":       boolKey(func(o *Options) *bool { return &o.Trace }),
	"logfile":     strKey(func(o *Options) *string { return &o.LogFile }),
	"log_file":    strKey(func(o *Options) *string { return &o.LogFile }),
	"pidfile":     strKey(func(o *Options) *string { return &o.PidFile }),
	"pid_file":    strKey(func(o *Options) *string { return &o.PidFile }),

	"max_connections":   intKey(1, math.MaxInt32, func(o *Options, n int64) { o.MaxConnections = int(n) }),
	"max_conn":          intKey(1, math.MaxInt32, func(o *Options, n int64) { o.MaxConnections = int(n) }),
	"max_subscriptions": intKey(0, math.MaxInt32, func(o *Options, n int64) { o.MaxSubscriptions = int(n) }),
	"max_subs":          intKey(0, math.MaxInt32, func(o *Options, n int64) { o.MaxSubscriptions = int(n) }),
	"max_payload":       intKey(1, math.MaxInt32, func(o *Options, n int64) { o.MaxPayload = int(n) }),
	"max_pending":       intKey(1, math.MaxInt64, func(o *Options, n int64) { o.MaxPending = n }),
	"max_control_line":  intKey(1, math.MaxInt32, func(o *Options, n int64) { o.MaxControlLine = int(n) }),
	"ping_max":          intKey(1, math.MaxInt32, func(o *Options, n int64) { o.MaxPingsOut = int(n) }),
	"ping_interval":     durationKey(func(o *Options) *time.Duration { return &o.PingInterval }),
	"write_deadline":    durationKey(func(o *Options) *time.Duration { return &o.WriteDeadline }),

	"authorization": func(cp *configParser, o *Options, v cval) {
		if m, ok := cp.mapValue(v, "authorization"); ok {
			applySection(cp, &o.Auth, m, authorizationKeys, "authorization")
		}
	},
	"accounts":               accountsKey,
	"http":                   httpKey,
	"monitor_port":           intKey(-1, 65535, func(o *Options, n int64) { o.HTTPPort = int(n) }),
	"http_port":              intKey(-1, 65535, func(o *Options, n int64) { o.HTTPPort = int(n) }),
	"http_base_path":         strKey(func(o *Options) *string { return &o.HTTPBasePath }),
	"ports_file_dir":         strKey(func(o *Options) *string { return &o.PortsFileDir }),
	"lame_duck_duration":     durationKey(func(o *Options) *time.Duration { return &o.LameDuckDuration }),
	"lame_duck_grace_period": durationKey(func(o *Options) *time.Duration { return &o.LameDuckGracePeriod }),
	"jetstream":              jetstreamKey,
	"no_auth_user":           strKey(func(o *Options) *string { return &o.Auth.NoAuthUser }),
	"tls": func(cp *configParser, o *Options, v cval) {
		if m, ok := cp.mapValue(v, "tls"); ok {
			applySection(cp, &o.TLS, m, tlsKeys, "tls")
		}
	},
	"websocket": websocketKey,
	"ws":        websocketKey,
	"mqtt":      mqttKey,
	"cluster":   clusterKey,
}

func serverNameKey(cp *configParser, o *Options, v cval) {
	s, ok := cp.str(v)
	if !ok {
		return
	}
	if strings.ContainsAny(s, " \t\r\n") {
		cp.errorf(v, "server_name cannot contain spaces")
		return
	}
	o.ServerName = s
}

// tlsKeys is the table of the tls block.
var tlsKeys = map[string]keyHandler[TLSOptions]{
	"cert_file":      strKey(func(t *TLSOptions) *string { return &t.CertFile }),
	"key_file":       strKey(func(t *TLSOptions) *string { return &t.KeyFile }),
	"ca_file":        strKey(func(t *TLSOptions) *string { return &t.CAFile }),
	"verify":         boolKey(func(t *TLSOptions) *bool { return &t.Verify }),
	"verify_and_map": boolKey(func(t *TLSOptions) *bool { return &t.Map }),
	"timeout":        durationKey(func(t *TLSOptions) *time.Duration { return &t.Timeout }),
}

// Typed value accessors: each reports a type mismatch at the value's line.

func (cp *configParser) str(v cval) (string, bool) {
	s, ok := v.v.(string)
	if !ok {
		cp.errorf(v, "expected a string, got %s", typeName(v.v))
	}
	return s, ok
}

func (cp *configParser) boolean(v cval) (bool, bool) {
	b, ok := v.v.(bool)
	if !ok {
		cp.errorf(v, "expected true or false, got %s", typeName(v.v))
	}
	return b, ok
}

func (cp *configParser) integer(v cval, lo, hi int64) (int64, bool) {
	n, ok := v.v.(int64)
	if !ok {
		cp.errorf(v, "expected an integer, got %s", typeName(v.v))
		return 0, false
	}
	if n < lo || n > hi {
		cp.errorf(v, "value %d is out of range [%d, %d]", n, lo, hi)
		return 0, false
	}
	return n, true
}

func (cp *configParser) mapValue(v cval, what string) (map[string]any, bool) {
	m, ok := v.v.(map[string]any)
	if !ok {
		cp.errorf(v, "%s must be a map, got %s", what, typeName(v.v))
	}
	return m, ok
}

func (cp *configParser) array(v cval, what string) ([]any, bool) {
	a, ok := v.v.([]any)
	if !ok {
		cp.errorf(v, "%s must be an array, got %s", what, typeName(v.v))
	}
	return a, ok
}

// duration accepts a Go duration string ("2m") or, as nats-server does for
// backward compatibility, a number of seconds.
func (cp *configParser) duration(v cval) (time.Duration, bool) {
	var d time.Duration
	switch x := v.v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(x); err != nil {
			cp.errorf(v, "invalid duration %q", x)
			return 0, false
		}
	case int64:
		if x > math.MaxInt64/int64(time.Second) {
			cp.errorf(v, "duration %d s is too long", x)
			return 0, false
		}
		d = time.Duration(x) * time.Second
	case float64:
		if !(x <= float64(math.MaxInt64/int64(time.Second))) {
			cp.errorf(v, "invalid duration %v s", x)
			return 0, false
		}
		d = time.Duration(x * float64(time.Second))
	default:
		cp.errorf(v, "expected a duration, got %s", typeName(v.v))
		return 0, false
	}
	if d <= 0 {
		cp.errorf(v, "duration must be positive")
		return 0, false
	}
	return d, true
}

func (cp *configParser) hostPort(v cval) (string, int, bool) {
	switch x := v.v.(type) {
	case int64:
		if x < -1 || x > 65535 {
			cp.errorf(v, "invalid port %d", x)
			return "", 0, false
		}
		return "", int(x), true
	case string:
		// -1 is any free port, as in nats-server.
		host, portText, err := net.SplitHostPort(x)
		port, perr := strconv.Atoi(portText)
		if err != nil || perr != nil || port < -1 || port > 65535 {
			cp.errorf(v, "listen: cannot parse %q as host:port", x)
			return "", 0, false
		}
		return host, port, true
	}
	cp.errorf(v, "listen: expected port or host:port, got %s", typeName(v.v))
	return "", 0, false
}

func typeName(x any) string {
	switch x.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case map[string]any:
		return "a map"
	case []any:
		return "an array"
	case time.Time:
		return "a date"
	}
	return fmt.Sprintf("%T", x)
}

// Handler constructors for the common kinds of key.

func strKey[T any](field func(*T) *string) keyHandler[T] {
	return func(cp *configParser, t *T, v cval) {
		if s, ok := cp.str(v); ok {
			*field(t) = s
		}
	}
}

func boolKey[T any](field func(*T) *bool) keyHandler[T] {
	return func(cp *configParser, t *T, v cval) {
		if b, ok := cp.boolean(v); ok {
			*field(t) = b
		}
	}
}

func intKey[T any](lo, hi int64, set func(*T, int64)) keyHandler[T] {
	return func(cp *configParser, t *T, v cval) {
		if n, ok := cp.integer(v, lo, hi); ok {
			set(t, n)
		}
	}
}

func durationKey[T any](field func(*T) *time.Duration) keyHandler[T] {
	return func(cp *configParser, t *T, v cval) {
		if d, ok := cp.duration(v); ok {
			*field(t) = d
		}
	}
}
