package server

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"
	"go.uber.org/zap"
	"golang.org/x/crypto/bcrypt"

	"github.com/midgemq/midge/parser"
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

// authUser is a configured identity resolved against the server's accounts
// and with compiled permissions; shared by all its connections.
type authUser struct {
	name     string // username or public nkey, for logs
	password string
	acc      *Account
	perms    *permSet
}

// authenticator decides CONNECTs. It is built once in New and read-only.
type authenticator struct {
	required   bool
	nonce      bool // nkey users exist, so INFO carries a nonce to sign
	token      string
	single     *authUser // --user/--pass
	users      map[string]*authUser
	nkeys      map[string]*authUser
	noAuthUser *authUser
	tlsMap     bool
	timeout    time.Duration
	global     *authUser // identity of token clients and of no auth at all
}

func newAuthenticator(o *Options, s *Server) (*authenticator, error) {
	ao := &o.Auth
	a := &authenticator{
		token:   ao.Token,
		users:   make(map[string]*authUser),
		nkeys:   make(map[string]*authUser),
		tlsMap:  o.TLS.Map,
		timeout: ao.Timeout,
		global:  &authUser{acc: s.gacc},
	}
	hasList := len(ao.Users) > 0 || len(ao.Nkeys) > 0
	switch {
	case ao.Token != "" && (ao.Username != "" || hasList):
		return nil, errors.New("a token cannot be combined with users")
	case ao.Username != "" && hasList:
		return nil, errors.New("a single user/password cannot be combined with a users list")
	case ao.Password != "" && ao.Username == "":
		return nil, errors.New("a password needs a user")
	}
	if ao.Username != "" {
		a.single = &authUser{name: ao.Username, password: ao.Password, acc: s.gacc}
	}
	for _, u := range ao.Users {
		au, err := a.newUser(s, u.Username, u.Account, u.Permissions, ao.DefaultPermissions)
		if err != nil {
			return nil, err
		}
		if _, dup := a.users[u.Username]; dup {
			return nil, fmt.Errorf("user %q is defined twice", u.Username)
		}
		au.password = u.Password
		a.users[u.Username] = au
	}
	for _, u := range ao.Nkeys {
		if !nkeys.IsValidPublicUserKey(u.Nkey) {
			return nil, fmt.Errorf("%q is not a valid public user nkey", u.Nkey)
		}
		au, err := a.newUser(s, u.Nkey, u.Account, u.Permissions, ao.DefaultPermissions)
		if err != nil {
			return nil, err
		}
		if _, dup := a.nkeys[u.Nkey]; dup {
			return nil, fmt.Errorf("nkey %q is defined twice", u.Nkey)
		}
		a.nkeys[u.Nkey] = au
	}
	if ao.NoAuthUser != "" {
		a.noAuthUser = a.users[ao.NoAuthUser]
		if a.noAuthUser == nil {
			a.noAuthUser = a.nkeys[ao.NoAuthUser]
		}
		if a.noAuthUser == nil {
			return nil, fmt.Errorf("no_auth_user %q is not a configured user", ao.NoAuthUser)
		}
	}
	a.nonce = len(a.nkeys) > 0
	a.required = a.token != "" || a.single != nil || hasList
	if a.tlsMap && !hasList {
		return nil, errors.New("TLS certificate mapping (verify_and_map) needs a users list")
	}
	if a.timeout <= 0 {
		a.timeout = DefaultAuthTimeout
		if o.TLS.enabled() {
			a.timeout = o.TLS.Timeout + time.Second
		}
	}
	return a, nil
}

func (a *authenticator) newUser(s *Server, name, account string, p, defaults *Permissions) (*authUser, error) {
	if name == "" {
		return nil, errors.New("a user entry needs a user name or nkey")
	}
	acc := s.gacc
	if account != "" {
		acc = s.accounts[account]
		if acc == nil {
			return nil, fmt.Errorf("user %q: unknown account %q", name, account)
		}
	}
	if p == nil {
		p = defaults
	}
	ps, err := compilePermissions(p)
	if err != nil {
		return nil, fmt.Errorf("user %q permissions: %w", name, err)
	}
	return &authUser{name: name, acc: acc, perms: ps}, nil
}

// authenticate returns the identity a CONNECT proves, or nil. It runs on
// the client's read loop; sec gives the connection's nonce and TLS state.
func (a *authenticator) authenticate(sec *clientSecurity, f *connectFields) *authUser {
	if !a.required {
		return a.global
	}
	noCreds := f.User == "" && f.Pass == "" && f.AuthToken == "" && f.Nkey == ""
	if len(a.users) > 0 || len(a.nkeys) > 0 {
		if noCreds && a.noAuthUser != nil && !a.tlsMap {
			return a.noAuthUser
		}
		if f.Nkey != "" {
			return a.checkNkey(sec.nonce, f)
		}
		if a.tlsMap {
			return a.mapCertificate(sec.tlsState)
		}
		// With certificate mapping off, a user configured without a
		// password logs in with none, as in the reference server.
		u := a.users[f.User]
		if u == nil || !passwordMatches(u.password, f.Pass) {
			return nil
		}
		return u
	}
	if a.token != "" {
		if passwordMatches(a.token, f.AuthToken) {
			return a.global
		}
		return nil
	}
	if a.single != nil && f.User == a.single.name && passwordMatches(a.single.password, f.Pass) {
		return a.single
	}
	return nil
}

// checkNkey verifies the signature of the connection's nonce. Clients send
// it base64url without padding; standard base64 is tolerated as by the
// reference server.
func (a *authenticator) checkNkey(nonce string, f *connectFields) *authUser {
	u := a.nkeys[f.Nkey]
	if u == nil || f.Sig == "" || nonce == "" {
		return nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(f.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(f.Sig); err != nil {
			return nil
		}
	}
	pub, err := nkeys.FromPublicKey(f.Nkey)
	if err != nil || pub.Verify([]byte(nonce), sig) != nil {
		return nil
	}
	return u
}

// mapCertificate finds the user a verified client certificate names: its
// e-mail addresses, DNS names and URIs first, then its subject in RFC 2253
// form as Go prints it (e.g. "CN=alice,OU=ops,O=Acme").
func (a *authenticator) mapCertificate(st *tls.ConnectionState) *authUser {
	if st == nil || len(st.PeerCertificates) == 0 {
		return nil
	}
	cert := st.PeerCertificates[0]
	var names []string
	names = append(names, cert.EmailAddresses...)
	names = append(names, cert.DNSNames...)
	for _, u := range cert.URIs {
		names = append(names, u.String())
	}
	names = append(names, cert.Subject.String(), cert.Subject.ToRDNSequence().String())
	for _, n := range names {
		if u := a.users[n]; n != "" && u != nil {
			return u
		}
	}
	return nil
}

var bcryptPattern = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// passwordMatches compares a configured secret, plain or bcrypt-hashed,
// with what a client sent. Plain secrets compare in constant time.
func passwordMatches(configured, given string) bool {
	if bcryptPattern.MatchString(configured) {
		return bcrypt.CompareHashAndPassword([]byte(configured), []byte(given)) == nil
	}
	return subtle.ConstantTimeCompare([]byte(configured), []byte(given)) == 1
}

// nonceLen random bytes encode to the 15-character nonce clients sign.
const nonceLen = 11

func newNonce() string {
	var b [nonceLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// clientSecurity is a connection's authentication and authorization state.
type clientSecurity struct {
	// awaitingAuth is set while auth is required and no CONNECT has
	// succeeded; only the read loop reads or writes it.
	awaitingAuth bool
	// authed tells the auth timer that CONNECT succeeded.
	authed    atomic.Bool
	authTimer *time.Timer // read loop only

	nonce    string
	tlsState *tls.ConnectionState
	user     *authUser
	// perms is fixed at the first successful CONNECT, before the client
	// can subscribe, so publishers delivering to it read it without a lock.
	perms    *permSet
	pubCache pubPermCache // read loop only
	replies  replyPerms
}

var errAuthViolation = &parser.WireError{Text: "Authorization Violation"}

const authTimeoutText = "Authentication Timeout"

// requireAuth is called by every handler but CONNECT's while the client has
// not authenticated: with auth on, nothing else is accepted first.
func (c *client) requireAuth() error {
	c.srv.viol.authFailures.Add(1)
	c.srv.log.Info("operation before CONNECT on a server requiring auth",
		zap.Uint64("cid", c.cid), zap.String("remote", c.host))
	return errAuthViolation
}

// startAuthTimer closes the connection if it has not authenticated within
// the auth timeout.
func (c *client) startAuthTimer() {
	if !c.sec.awaitingAuth {
		return
	}
	c.sec.authTimer = time.AfterFunc(c.srv.auth.timeout, func() {
		if c.sec.authed.Load() || c.closed.Load() {
			return
		}
		c.srv.viol.authTimeouts.Add(1)
		c.sendErrNow(authTimeoutText)
		c.closeConnection(closeAuthTimeout, true)
	})
}

// authenticateConnect applies the credentials of a CONNECT. A first
// CONNECT decides the user, account and permissions; a later one must
// prove the same user, since subscriptions already live in that user's
// account under its permissions.
func (c *client) authenticateConnect(f *connectFields) error {
	if !c.srv.auth.required {
		// Nothing to decide, and nothing may be written: without auth a
		// client can subscribe before CONNECT, so publishers may already
		// be reading this client's permissions.
		return nil
	}
	u := c.srv.auth.authenticate(&c.sec, f)
	if u == nil || (c.sec.user != nil && u != c.sec.user) {
		c.srv.viol.authFailures.Add(1)
		c.srv.log.Info("authentication failed", zap.Uint64("cid", c.cid),
			zap.String("remote", c.host), zap.String("user", connectIdentity(f)))
		return errAuthViolation
	}
	if c.sec.user == nil {
		c.sec.user = u
		c.sec.perms = u.perms
		c.setAccount(u.acc)
	}
	if c.sec.awaitingAuth {
		c.sec.awaitingAuth = false
		c.sec.authed.Store(true)
		if c.sec.authTimer != nil {
			c.sec.authTimer.Stop()
		}
	}
	return nil
}

// setAccount moves a client that has no subscriptions yet into acc. The
// write is under c.mu because closeConnection reads c.acc from any
// goroutine; the producer's match cache is dropped since generations of
// different sublists are unrelated.
func (c *client) setAccount(acc *Account) {
	if acc == c.acc {
		return
	}
	c.mu.Lock()
	c.acc = acc
	c.mu.Unlock()
	c.prod.acc = acc
	c.prod.cache = matchCache{}
}

// connectIdentity names who a CONNECT claimed to be, for logs; it never
// includes secrets.
func connectIdentity(f *connectFields) string {
	switch {
	case f.Nkey != "":
		return f.Nkey
	case f.User != "":
		return f.User
	case f.AuthToken != "":
		return "<token>"
	}
	return ""
}
