package broker

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
	"golang.org/x/crypto/bcrypt"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/parser"
)

// User is a configured identity resolved against the server's accounts
// and with compiled permissions; shared by all its connections.
type User struct {
	name     string // username or public nkey, for logs
	password string
	acc      *Account
	perms    *Permissions
}

// authenticator decides CONNECTs. It is read-only once built; a Reload
// that changes users or accounts builds another and swaps it in whole.
type authenticator struct {
	required   bool
	nonce      bool // nkey users exist, so INFO carries a nonce to sign
	token      string
	single     *User // --user/--pass
	users      map[string]*User
	nkeys      map[string]*User
	noAuthUser *User
	tlsMap     bool
	timeout    time.Duration
	global     *User // identity of token clients and of no auth at all
}

// newAuthenticator resolves o's users against accs, the accounts ($G
// included) they may name.
func newAuthenticator(o *config.Options, accs map[string]*Account) (*authenticator, error) {
	ao := &o.Auth
	gacc := accs[GlobalAccountName]
	a := &authenticator{
		token:   ao.Token,
		users:   make(map[string]*User),
		nkeys:   make(map[string]*User),
		tlsMap:  o.TLS.Map,
		timeout: ao.Timeout,
		global:  &User{acc: gacc},
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
		a.single = &User{name: ao.Username, password: ao.Password, acc: gacc}
	}
	for _, u := range ao.Users {
		au, err := newUser(accs, u.Username, u.Account, u.Permissions, ao.DefaultPermissions)
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
		au, err := newUser(accs, u.Nkey, u.Account, u.Permissions, ao.DefaultPermissions)
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
		a.timeout = config.DefaultAuthTimeout
		if o.TLS.Enabled() {
			a.timeout = o.TLS.Timeout + time.Second
		}
	}
	return a, nil
}

func newUser(accs map[string]*Account, name, account string, p, defaults *config.Permissions) (*User, error) {
	if name == "" {
		return nil, errors.New("a user entry needs a user name or nkey")
	}
	acc := accs[GlobalAccountName]
	if account != "" {
		acc = accs[account]
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
	return &User{name: name, acc: acc, perms: ps}, nil
}

// identity is what a client presented to authenticate: the credentials of
// its CONNECT, the nonce it was given to sign and its TLS state. A
// connection keeps the one that last succeeded, so that a reload can decide
// again who it proves to be.
type identity struct {
	user, pass, token, nkey, sig string
	nonce                        string
	tls                          *tls.ConnectionState

	// The configured password and token (plain or bcrypt) the presented
	// ones were found to match: deciding again against an unchanged
	// secret then costs no bcrypt run.
	passOK, tokenOK string
}

func (id *identity) noCredentials() bool {
	return id.user == "" && id.pass == "" && id.token == "" && id.nkey == ""
}

// passwordMatches and tokenMatches compare a configured secret with the
// presented one, remembering a match.
func (id *identity) passwordMatches(configured string) bool {
	if id.passOK != "" && id.passOK == configured {
		return true
	}
	ok := passwordMatches(configured, id.pass)
	if ok {
		id.passOK = configured
	}
	return ok
}

func (id *identity) tokenMatches(configured string) bool {
	if id.tokenOK != "" && id.tokenOK == configured {
		return true
	}
	ok := passwordMatches(configured, id.token)
	if ok {
		id.tokenOK = configured
	}
	return ok
}

// authenticate returns the user id proves, or nil. It may run bcrypt, so
// callers hold no lock.
func (a *authenticator) authenticate(id *identity) *User {
	if !a.required {
		return a.global
	}
	if len(a.users) > 0 || len(a.nkeys) > 0 {
		if id.noCredentials() && a.noAuthUser != nil && !a.tlsMap {
			return a.noAuthUser
		}
		if id.nkey != "" {
			return a.checkNkey(id)
		}
		if a.tlsMap {
			return a.mapCertificate(id.tls)
		}
		// With certificate mapping off, a user configured without a
		// password logs in with none, as in the reference server.
		u := a.users[id.user]
		if u == nil || !id.passwordMatches(u.password) {
			return nil
		}
		return u
	}
	if a.token != "" {
		if id.tokenMatches(a.token) {
			return a.global
		}
		return nil
	}
	if a.single != nil && id.user == a.single.name && id.passwordMatches(a.single.password) {
		return a.single
	}
	return nil
}

// checkNkey verifies the signature of the connection's nonce. Clients send
// it base64url without padding; standard base64 is tolerated as by the
// reference server.
func (a *authenticator) checkNkey(id *identity) *User {
	u := a.nkeys[id.nkey]
	if u == nil || id.sig == "" || id.nonce == "" {
		return nil
	}
	sig, err := base64.RawURLEncoding.DecodeString(id.sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(id.sig); err != nil {
			return nil
		}
	}
	pub, err := nkeys.FromPublicKey(id.nkey)
	if err != nil || pub.Verify([]byte(id.nonce), sig) != nil {
		return nil
	}
	return u
}

// mapCertificate finds the user a verified client certificate names: its
// e-mail addresses, DNS names and URIs first, then its subject in RFC 2253
// form as Go prints it (e.g. "CN=alice,OU=ops,O=Acme").
func (a *authenticator) mapCertificate(st *tls.ConnectionState) *User {
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

	// auth is the authenticator in force when the connection was accepted:
	// it decides the INFO (auth_required, nonce) and the auth timeout.
	// Set before the client's goroutines start; read loop only after.
	auth     *authenticator
	nonce    string
	tlsState *tls.ConnectionState

	// perms is the user's permission set (nil: unrestricted), immutable
	// and shared. A reload swaps it while publishers delivering to this
	// client read it, hence atomic.
	perms atomic.Pointer[Permissions]
	// pubCache holds publish decisions under pubCacheOf; the read loop
	// starts it over when perms is another set (read loop only).
	pubCache   pubPermCache
	pubCacheOf *Permissions
	replies    replyPerms

	// Guarded by client.mu: written at CONNECT and by a reload.
	ident     *identity      // credentials of the last successful CONNECT; nil before
	user      *User          // who ident proved to be
	decidedBy *authenticator // the authenticator user and perms come from
}

var errAuthViolation = &parser.WireError{Text: "Authorization Violation"}

const authTimeoutText = "Authentication Timeout"

// requireAuth is called by every handler but CONNECT's while the client has
// not authenticated: with auth on, nothing else is accepted first.
func (c *client) requireAuth() error {
	c.broker.viol.authFailures.Add(1)
	c.broker.log.Info("operation before CONNECT on a server requiring auth",
		"cid", c.cid, "remote", c.host)
	return errAuthViolation
}

// startAuthTimer closes the connection if it has not authenticated within
// the auth timeout.
func (c *client) startAuthTimer() {
	if !c.sec.awaitingAuth {
		return
	}
	c.sec.authTimer = time.AfterFunc(c.sec.auth.timeout, func() {
		if c.sec.authed.Load() || c.closed.Load() {
			return
		}
		c.broker.viol.authTimeouts.Add(1)
		c.sendErrNow(authTimeoutText)
		c.closeConnection(CloseAuthTimeout, true)
	})
}

// pinAuth records the authenticator a connection is accepted under, before
// its goroutines start.
func (c *client) pinAuth(a *authenticator) {
	c.sec.auth = a
	c.sec.awaitingAuth = a.required
	c.sec.decidedBy = a
}

// authenticateConnect applies the credentials of a CONNECT, against the
// authenticator in force. A first CONNECT decides the user, account and
// permissions; a later one must prove the same user, since subscriptions
// already live in that user's account. Without auth every client is the
// global user, but its credentials are kept for a reload that turns auth
// on.
func (c *client) authenticateConnect(f *connectFields) error {
	a := c.broker.authn()
	id := &identity{user: f.User, pass: f.Pass, token: f.AuthToken, nkey: f.Nkey, sig: f.Sig,
		nonce: c.sec.nonce, tls: c.sec.tlsState}
	u := a.authenticate(id)
	c.mu.Lock()
	// A client without auth may have subscribed before CONNECT, in the
	// global account, so it cannot move to another.
	if u == nil || (c.sec.ident != nil && !sameUser(u, c.sec.user)) ||
		(u.acc != c.acc && len(c.subs) > 0) {
		c.mu.Unlock()
		c.broker.viol.authFailures.Add(1)
		c.broker.log.Info("authentication failed", "cid", c.cid,
			"remote", c.host, "user", connectIdentity(f))
		return errAuthViolation
	}
	c.sec.ident, c.sec.user, c.sec.decidedBy = id, u, a
	c.sec.perms.Store(u.perms)
	moved := u.acc != c.acc
	if moved {
		// Written under c.mu because other goroutines read c.acc.
		c.acc = u.acc
	}
	c.mu.Unlock()
	if moved {
		// Generations of different sublists are unrelated.
		c.prod.acc = u.acc
		c.prod.cache = matchCache{}
	}
	if c.sec.awaitingAuth {
		c.sec.awaitingAuth = false
		c.sec.authed.Store(true)
		if c.sec.authTimer != nil {
			c.sec.authTimer.Stop()
		}
	}
	if cur := c.broker.authn(); cur != a {
		// A reload swapped the authenticator meanwhile and may have
		// looked at this client before it had credentials.
		c.reauthorize(cur)
	}
	return nil
}

// sameUser tells whether two users, possibly of different authenticators,
// are the same configured identity.
func sameUser(a, b *User) bool {
	return a == b || (a != nil && b != nil && a.name == b.name && a.acc == b.acc)
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

// Name is the user's name or public nkey.
func (u *User) Name() string { return u.name }

// Account is the account the user belongs to.
func (u *User) Account() *Account { return u.acc }

// Permissions are the user's compiled permissions; nil allows everything.
func (u *User) Permissions() *Permissions { return u.perms }

// Authenticate decides a username/password or token login of another
// protocol than NATS (MQTT) against the users in force, with the
// connection's TLS state for certificate mapping; nil when refused.
// It may run bcrypt, so callers hold no lock.
func (b *Broker) Authenticate(user, password, token string, tlsState *tls.ConnectionState) *User {
	return b.authn().authenticate(&identity{user: user, pass: password, token: token, tls: tlsState})
}

// AuthTimeout is how long a connection may take to authenticate.
func (b *Broker) AuthTimeout() time.Duration { return b.authn().timeout }
