// Package config owns midge's configuration: Options and every option type,
// their defaults and validation, the reader of the configuration file (the
// reference server's format, so existing files load), and the reload table
// that says which options a running server may change. It knows nothing of
// connections or streams; the broker and the server read the options in
// force through one atomic pointer that a reload swaps whole.
package config
