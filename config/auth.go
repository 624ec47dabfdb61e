package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/midgemq/midge/sublist"
)

// AuthOptions configure client authentication. With none of Token,
// Username or Users/Nkeys set, clients connect without credentials.
// Otherwise exactly one scheme is in force: a token, one user/password, or
// a list of users and nkey users (which may belong to accounts).
type AuthOptions struct {
	Token    string // --auth; plain text or a bcrypt hash
	Username string // --user
	Password string // --pass; plain text or a bcrypt hash
	Users    []User
	Nkeys    []NkeyUser
	// NoAuthUser names a user of Users (or an nkey of Nkeys) that clients
	// presenting no credentials connect as.
	NoAuthUser string
	// DefaultPermissions apply to users that have none of their own.
	DefaultPermissions *Permissions
	// Timeout closes connections that have not authenticated in time.
	// Default 2 s, or the TLS handshake timeout plus 1 s with TLS.
	Timeout time.Duration
}

// User is a user/password identity. Password may be a bcrypt hash; it may
// be empty for users identified by their TLS certificate (TLS Map).
type User struct {
	Username    string
	Password    string
	Permissions *Permissions
	Account     string // account name; empty means the global account
}

// NkeyUser is an identity proven by signing the INFO nonce with the
// private key of the public user nkey.
type NkeyUser struct {
	Nkey        string
	Permissions *Permissions
	Account     string
}

// DefaultAuthTimeout is the time a client has to authenticate.
const DefaultAuthTimeout = 2 * time.Second

// Permissions restrict what one user may publish and subscribe to, in the
// reference server's model: an allow list (absent means everything) minus a
// deny list, with wildcards. Subscribe entries may name a queue group after
// the subject ("orders.* workers").
type Permissions struct {
	Publish   *SubjectPermission
	Subscribe *SubjectPermission
	// Response lets the user publish to the reply subject of a request it
	// received, even where Publish would not allow it (services whose
	// callers pick random inboxes).
	Response *ResponsePermission
}

// SubjectPermission is an allow and a deny list. A nil Allow allows every
// subject; an empty, non-nil one allows none.
type SubjectPermission struct {
	Allow []string
	Deny  []string
}

// ResponsePermission bounds the replies allowed per received request.
type ResponsePermission struct {
	MaxMsgs int           // replies per request; negative means unlimited
	Expires time.Duration // how long a reply stays allowed; negative means forever
}

// Reference-server defaults for allow_responses: one reply, within two
// minutes.
const (
	DefaultResponseMaxMsgs = 1
	DefaultResponseExpires = 2 * time.Minute
)

// ParsePermEntry splits a permission entry: "subject" or, for subscribe
// lists, "subject queue". Both must be valid subjects (wildcards allowed).
func ParsePermEntry(s string, allowQueue bool) (subject, queue string, err error) {
	if sublist.ValidSubject(s) {
		return s, "", nil
	}
	f := strings.Fields(s)
	if allowQueue && len(f) == 2 && sublist.ValidSubject(f[0]) && sublist.ValidSubject(f[1]) {
		return f[0], f[1], nil
	}
	return "", "", fmt.Errorf("subject %q is not a valid subject", s)
}
