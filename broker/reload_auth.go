package broker

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/midgemq/midge/config"
)

// Reloading users, permissions and accounts.
//
// A Reload whose Auth or Accounts differ builds a new authenticator against
// the accounts in force plus any new ones, and swaps it in under b.mu, the
// lock accept holds while it pins a new client to the authenticator in
// force: every client is then either accepted under the new authenticator
// or among those the reload re-checks. Re-checking a client decides again,
// under the new authenticator, whom the credentials of its last CONNECT
// prove:
//
//   - nobody, or a user of another account: the client is closed with
//     'Authorization Violation', as by nats-server;
//   - a user: the client gets that user's permissions for whatever it does
//     next (publishes, subscriptions, allow_responses), its existing
//     subscriptions get the new delivery filters, and those the new
//     permissions refuse are removed with a 'Permissions Violation for
//     Subscription' error.
//
// A client that has not yet sent its CONNECT under auth is left alone: its
// CONNECT is decided by the authenticator in force then. A CONNECT that
// raced a reload re-checks itself (authenticateConnect); of two checks of
// one client, the one for the newer authenticator wins (decidedBy).
//
// Accounts can be added (and get JetStream when it is on); removing one,
// which would strand its clients, subscriptions and streams, is refused.

// SecurityChange is what a reload that touches users or accounts installs.
type SecurityChange struct {
	accounts map[string]*Account // the accounts in force plus the added ones
	auth     *authenticator
	// Added are the accounts the reload adds.
	Added []*Account
}

// PrepareReload builds what a reload to next needs for users and accounts,
// without installing anything; nil when they are unchanged. It fails when
// next would remove an account or is not a valid set of users.
func (b *Broker) PrepareReload(next *config.Options) (*SecurityChange, error) {
	return b.prepareSecurity(b.Options(), next)
}

func (b *Broker) prepareSecurity(old, next *config.Options) (*SecurityChange, error) {
	if reflect.DeepEqual(old.Auth, next.Auth) && reflect.DeepEqual(old.Accounts, next.Accounts) {
		return nil, nil
	}
	if !sameImportsAndExports(old.Accounts, next.Accounts) {
		return nil, errors.New("config reload cannot change account imports or exports; restart the server to change them")
	}
	cur := b.accountMap()
	accs, err := buildAccounts(next.Accounts, b.gacc, cur)
	if err != nil {
		return nil, err
	}
	var removed []string
	for name := range cur {
		if accs[name] == nil {
			removed = append(removed, strconv.Quote(name))
		}
	}
	if len(removed) > 0 {
		slices.Sort(removed)
		return nil, fmt.Errorf("config reload cannot remove accounts %s; restart the server to remove them",
			strings.Join(removed, ", "))
	}
	ch := &SecurityChange{accounts: accs}
	for name, acc := range accs {
		if cur[name] == nil {
			ch.Added = append(ch.Added, acc)
		}
	}
	if ch.auth, err = newAuthenticator(next, accs); err != nil {
		return nil, err
	}
	return ch, nil
}

// ApplyReload puts next in force, with ch (from PrepareReload; nil when
// users and accounts did not change): new connections get the new options,
// and every connected client is checked again against the new users.
func (b *Broker) ApplyReload(next *config.Options, ch *SecurityChange) {
	b.opts.Store(next)
	if ch != nil {
		b.installSecurity(ch)
	}
}

// installSecurity puts ch in force and re-checks every connected client.
func (b *Broker) installSecurity(ch *SecurityChange) {
	b.accounts.Store(&ch.accounts)
	b.mu.Lock()
	b.auth.Store(ch.auth)
	clients := make([]*client, 0, len(b.conns))
	for _, c := range b.conns {
		if c.nats != nil {
			clients = append(clients, c.nats)
		}
	}
	b.mu.Unlock()
	var closed, removed int
	for _, c := range clients {
		revoked, n := c.reauthorize(ch.auth)
		if revoked {
			closed++
		}
		removed += n
	}
	for _, acc := range ch.Added {
		b.log.Info("account added", "account", acc.Name())
	}
	b.log.Info("users and permissions reloaded", "clients", len(clients),
		"clients_closed", closed, "subscriptions_removed", removed)
}

// reauthorize decides again, under a, whom the client's credentials prove
// and applies the outcome (see the top of this file). It reports whether
// the client was closed and how many subscriptions it lost. It runs on the
// reloading goroutine, or on the read loop when a CONNECT raced a reload.
func (c *client) reauthorize(a *authenticator) (revoked bool, removed int) {
	c.mu.Lock()
	if c.subs == nil || c.sec.decidedBy == a || (c.sec.ident == nil && c.sec.decidedBy.required) {
		c.mu.Unlock()
		return false, 0
	}
	idp := c.sec.ident
	var id identity // a client that never sent CONNECT (no auth) presented nothing
	if idp != nil {
		id = *idp
	}
	c.sec.decidedBy = a
	c.mu.Unlock()

	u := a.authenticate(&id) // may run bcrypt: no lock held

	c.mu.Lock()
	if c.subs == nil || c.sec.decidedBy != a {
		// Closed meanwhile, or a CONNECT or a newer reload decided since.
		c.mu.Unlock()
		return false, 0
	}
	if u == nil || u.acc != c.acc {
		c.mu.Unlock()
		c.revokeAuth(&id, u)
		return true, 0
	}
	if c.sec.ident == idp && idp != nil {
		*idp = id // keep the secrets id was found to match
	}
	c.sec.user = u
	c.sec.perms.Store(u.perms)
	denied := c.refilterSubsLocked(u.perms)
	c.mu.Unlock()
	for _, sub := range denied {
		c.removeSub(sub)
		text := subViolationText(sub.subject, sub.queue) + " (sid " + strconv.Quote(string(sub.sid)) + ")"
		c.sendErrNow(text)
		c.broker.log.Info("subscription removed: no longer permitted", "cid", c.cid,
			"user", u.name, "subject", sub.subject, "queue", sub.queue,
			"sid", string(sub.sid))
	}
	return false, len(denied)
}

// refilterSubsLocked gives the client's subscriptions the delivery filters
// of ps and returns those ps does not allow. Called with c.mu held.
func (c *client) refilterSubsLocked(ps *Permissions) []*subscription {
	var denied []*subscription
	for _, sub := range c.subs {
		if ps != nil && ps.hasSub && !ps.subAllowed(sub.subject, sub.queue) {
			denied = append(denied, sub)
			continue
		}
		sub.deny.Store(ps.subDenyFilter(sub.subject, sub.queue))
	}
	return denied
}

// revokeAuth closes a client whose credentials a reload no longer accepts
// (u nil), or accepts for a user of another account.
func (c *client) revokeAuth(id *identity, u *User) {
	c.broker.viol.authFailures.Add(1)
	why := "credentials no longer valid"
	if u != nil {
		why = "user moved to account " + u.acc.Name()
	}
	c.broker.log.Info("closing client after reload: "+why, "cid", c.cid,
		"remote", c.host, "user", id.name())
	c.sendErrNow(errAuthViolation.Text)
	c.closeConnection(CloseAuthRevoked, true)
}

// name is who the identity claims to be, for logs; never a secret.
func (id *identity) name() string {
	return connectIdentity(&connectFields{User: id.user, Nkey: id.nkey, AuthToken: id.token})
}

// sameImportsAndExports reports whether two account lists import and
// export the same, account by account.
func sameImportsAndExports(old, next []config.AccountOptions) bool {
	type io struct {
		exports []config.ExportOptions
		imports []config.ImportOptions
	}
	of := func(list []config.AccountOptions) map[string]io {
		m := map[string]io{}
		for _, a := range list {
			if len(a.Exports) > 0 || len(a.Imports) > 0 {
				m[a.Name] = io{a.Exports, a.Imports}
			}
		}
		return m
	}
	return reflect.DeepEqual(of(old), of(next))
}
