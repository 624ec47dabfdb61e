package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/midgemq/midge/config/conffile"
)

// This file maps the tree of a configuration file in nats-server's format
// (read by config/conffile, which owns the syntax) onto Options. Every key
// midge understands has an entry in a section table; anything else is an
// error naming the file, line and key path, never silently ignored.
// Adding a key is adding one table entry.

// LoadConfigFile reads a configuration file into Options. Fields the file
// does not set keep their zero value, which New fills with defaults. It
// has no side effects, so a reload can call it again.
func LoadConfigFile(path string) (Options, error) {
	return loadConfig(path, func() (*conffile.Map, error) { return conffile.ParseFile(path) })
}

// ParseConfig reads configuration text; include directives are resolved
// against the working directory.
func ParseConfig(text string) (Options, error) {
	const name = "config"
	return loadConfig(name, func() (*conffile.Map, error) { return conffile.Parse(name, text) })
}

func loadConfig(name string, parse func() (*conffile.Map, error)) (opts Options, err error) {
	// A configuration is reloaded into a running server: a bug in reading
	// one must not take the process down.
	defer func() {
		if r := recover(); r != nil {
			opts, err = Options{}, &ConfigError{errs: []error{fmt.Errorf("%s: cannot read the configuration: %v", name, r)}}
		}
	}()
	root, err := parse()
	if err != nil {
		return Options{}, &ConfigError{errs: []error{err}}
	}
	cp := &configParser{file: name}
	applySection(cp, &opts, root, topLevelKeys, "")
	cp.finishAuth(&opts)
	cp.finishWarnings(&opts)
	if len(cp.errs) > 0 {
		return Options{}, cp.err()
	}
	return opts, nil
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
	pos  conffile.Pos
	path string // the key path, "jetstream.max_file"
	msg  string
}

func (cp *configParser) errorf(v cval, format string, args ...any) {
	cp.errs = append(cp.errs, configError{v.pos, v.path, fmt.Sprintf(format, args...)})
}

// ConfigError lists every problem found in a configuration file, one per
// line of its text, in the order of the files and lines they are on.
type ConfigError struct{ errs []error }

func (e *ConfigError) Error() string { return errors.Join(e.errs...).Error() }

// Unwrap gives the individual problems.
func (e *ConfigError) Unwrap() []error { return e.errs }

// err orders the problems by line within each file, files in the order
// their first problem was found, and formats each as
// "file:line: key.path: message".
func (cp *configParser) err() error {
	rank := map[string]int{}
	for _, e := range cp.errs {
		if _, ok := rank[e.pos.File]; !ok {
			rank[e.pos.File] = len(rank)
		}
	}
	sort.SliceStable(cp.errs, func(i, j int) bool {
		a, b := cp.errs[i], cp.errs[j]
		if a.pos.File != b.pos.File {
			return rank[a.pos.File] < rank[b.pos.File]
		}
		return a.pos.Line < b.pos.Line
	})
	errs := make([]error, len(cp.errs))
	for i, e := range cp.errs {
		where := cp.file
		if e.pos.Line > 0 {
			where = fmt.Sprintf("%s:%d", e.pos.File, e.pos.Line)
		}
		if e.path != "" {
			where += ": " + e.path
		}
		errs[i] = fmt.Errorf("%s: %s", where, e.msg)
	}
	return &ConfigError{errs: errs}
}

// cval is one configuration value with where it was written.
type cval struct {
	v        any    // string, int64, float64, bool, time.Time, *conffile.Map or []*conffile.Value
	raw      string // a scalar as written, for messages
	pos      conffile.Pos
	path     string // the key path: "authorization.users[0].password"
	variable bool   // defined as a variable and used through $name
}

// entryValue is a map entry's value, placed at its key.
func entryValue(e *conffile.Entry, parent string) cval {
	path := e.Key
	if parent != "" {
		path = parent + "." + e.Key
	}
	return cval{v: e.Value.Interface(), raw: e.Value.Raw, pos: e.KeyPos, path: path, variable: e.Referenced}
}

// elemValue is the i-th element of the array at parent.
func elemValue(x *conffile.Value, parent string, i int) cval {
	return cval{v: x.Interface(), raw: x.Raw, pos: x.Pos, path: fmt.Sprintf("%s[%d]", parent, i)}
}

// keyHandler applies one key's value to the section's target.
type keyHandler[T any] func(cp *configParser, target *T, v cval)

// applySection dispatches each key of m (case-insensitively, in the order
// written) through table, reporting keys the table lacks. path is m's key
// path ("" for the top level).
func applySection[T any](cp *configParser, target *T, m *conffile.Map, table map[string]keyHandler[T], path string) {
	for _, e := range m.Entries() {
		v := entryValue(e, path)
		h, ok := table[strings.ToLower(e.Key)]
		if !ok {
			cp.unknownKey(e.Key, v, path == "", tableKeys(table))
			continue
		}
		h(cp, target, v)
	}
}

func tableKeys[T any](table map[string]keyHandler[T]) []string {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (cp *configParser) unknownKey(k string, v cval, top bool, known []string) {
	if v.variable {
		return // a variable definition, used elsewhere by $name
	}
	lk := strings.ToLower(k)
	switch {
	case top && toleratedHarnessKeys[lk]:
		cp.tolerate(v.path)
	case top && unsupportedNatsKeys[lk]:
		cp.errorf(v, "a nats-server option midge does not support")
	default:
		if guess := closestKey(lk, known); guess != "" {
			cp.errorf(v, "unknown configuration key (did you mean %q?)", guess)
			return
		}
		cp.errorf(v, "unknown configuration key")
	}
}

// closestKey is the known key within two edits of k, if one is.
func closestKey(k string, known []string) string {
	best, bestDist := "", 3
	for _, c := range known {
		if d := editDistance(k, c, bestDist); d < bestDist && d < len(k) {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit when it
// is at least that.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// unsupportedNatsKeys are top-level nats-server options midge does not have
// (yet) and that change what clients get or how they are secured, so a
// configuration holding them must not start as if they were honoured.
// Naming them helps whoever brings a nats-server config along.
var unsupportedNatsKeys = map[string]bool{
	"gateway": true, "https": true, "https_port": true,
	"operator": true, "operators": true, "root": true, "roots": true, "root_operator": true, "root_operators": true,
	"resolver": true, "account_resolver": true, "accounts_resolver": true, "resolver_tls": true,
	"resolver_preload": true, "resolver_pinned_accounts": true, "trusted": true, "trusted_keys": true,
	"syslog": true, "remote_syslog": true, "ocsp": true, "ocsp_cache": true, "allow_non_tls": true,
	"mappings": true, "maps": true, "proxy_protocol": true, "proxies": true, "no_header_support": true,
	"default_sentinel": true,
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
		if m, ok := cp.mapValue(v); ok {
			applySection(cp, &o.Auth, m, authorizationKeys, v.path)
		}
	},
	"accounts":               accountsKey,
	"http":                   httpKey,
	"monitor_port":           intKey(-1, 65535, func(o *Options, n int64) { o.HTTPPort = int(n) }),
	"http_port":              intKey(-1, 65535, func(o *Options, n int64) { o.HTTPPort = int(n) }),
	"http_base_path":         strKey(func(o *Options) *string { return &o.HTTPBasePath }),
	"prof_port":              intKey(-1, 65535, func(o *Options, n int64) { o.ProfPort = int(n) }),
	"max_closed_clients":     intKey(0, math.MaxInt32, func(o *Options, n int64) { o.MaxClosedClients = int(n) }),
	"ports_file_dir":         strKey(func(o *Options) *string { return &o.PortsFileDir }),
	"lame_duck_duration":     durationKey(func(o *Options) *time.Duration { return &o.LameDuckDuration }),
	"lame_duck_grace_period": durationKey(func(o *Options) *time.Duration { return &o.LameDuckGracePeriod }),
	"jetstream":              jetstreamKey,
	"store_dir":              strKey(func(o *Options) *string { return &o.StoreDir }),
	"storedir":               strKey(func(o *Options) *string { return &o.StoreDir }),
	"no_auth_user":           strKey(func(o *Options) *string { return &o.Auth.NoAuthUser }),
	"tls": func(cp *configParser, o *Options, v cval) {
		if m, ok := cp.mapValue(v); ok {
			applySection(cp, &o.TLS, m, tlsKeys, v.path)
		}
	},
	"websocket": websocketKey,
	"ws":        websocketKey,
	"mqtt":      mqttKey,
	"kafka":     kafkaKey,
	"cluster":   clusterKey,
}

func serverNameKey(cp *configParser, o *Options, v cval) {
	s, ok := cp.str(v)
	if !ok {
		return
	}
	if strings.ContainsAny(s, " \t\r\n") {
		cp.errorf(v, "cannot contain spaces")
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
		cp.errorf(v, "expected a string, got %s", describe(v))
	}
	return s, ok
}

func (cp *configParser) boolean(v cval) (bool, bool) {
	b, ok := v.v.(bool)
	if !ok {
		cp.errorf(v, "expected true or false, got %s", describe(v))
	}
	return b, ok
}

func (cp *configParser) integer(v cval, lo, hi int64) (int64, bool) {
	n, ok := v.v.(int64)
	if !ok {
		cp.errorf(v, "expected an integer, got %s", describe(v))
		return 0, false
	}
	if n < lo || n > hi {
		cp.errorf(v, "value %d is out of range [%d, %d]", n, lo, hi)
		return 0, false
	}
	return n, true
}

func (cp *configParser) mapValue(v cval) (*conffile.Map, bool) {
	m, ok := v.v.(*conffile.Map)
	if !ok {
		cp.errorf(v, "expected a map { ... }, got %s", describe(v))
	}
	return m, ok
}

func (cp *configParser) array(v cval) ([]*conffile.Value, bool) {
	a, ok := v.v.([]*conffile.Value)
	if !ok {
		cp.errorf(v, "expected an array [ ... ], got %s", describe(v))
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
		cp.errorf(v, "expected a duration such as \"30s\" or a number of seconds, got %s", describe(v))
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
			cp.errorf(v, "cannot parse %q as host:port", x)
			return "", 0, false
		}
		return host, port, true
	}
	cp.errorf(v, "expected a port or \"host:port\", got %s", describe(v))
	return "", 0, false
}

// describe names a value's type and shows a scalar as written:
// `a string "lots"`, `an integer 5`.
func describe(v cval) string {
	const maxShown = 40
	raw := v.raw
	if len(raw) > maxShown {
		raw = raw[:maxShown] + "..."
	}
	switch v.v.(type) {
	case string:
		return "a string " + strconv.Quote(raw)
	case int64:
		return "an integer " + raw
	case float64:
		return "a number " + raw
	case bool:
		return "a boolean " + raw
	case *conffile.Map:
		return "a map"
	case []*conffile.Value:
		return "an array"
	case time.Time:
		return "a date " + raw
	}
	return fmt.Sprintf("%T", v.v)
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
