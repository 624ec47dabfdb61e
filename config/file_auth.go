package config

import (
	"slices"
	"strings"
	"time"

	"github.com/midgemq/midge/config/conffile"
)

// The authorization, accounts and permissions sections of the
// configuration file, in nats-server's format:
//
//	authorization { token: "s3cret" }
//	authorization { user: alice, password: "$2a$11$...", timeout: 2 }
//	authorization {
//	  users: [
//	    { user: svc, password: pw, permissions: { publish: ["svc.>"], allow_responses: true } }
//	    { nkey: UABC... }
//	  ]
//	}
//	accounts { A { users: [ { user: a, password: pa } ] } }

var authorizationKeys = map[string]keyHandler[AuthOptions]{
	"token":    strKey(func(a *AuthOptions) *string { return &a.Token }),
	"user":     strKey(func(a *AuthOptions) *string { return &a.Username }),
	"username": strKey(func(a *AuthOptions) *string { return &a.Username }),
	"pass":     strKey(func(a *AuthOptions) *string { return &a.Password }),
	"password": strKey(func(a *AuthOptions) *string { return &a.Password }),
	"timeout":  durationKey(func(a *AuthOptions) *time.Duration { return &a.Timeout }),
	"users": func(cp *configParser, a *AuthOptions, v cval) {
		users, nkeys := cp.userList(v, "")
		a.Users = append(a.Users, users...)
		a.Nkeys = append(a.Nkeys, nkeys...)
	},
	"permissions":         defaultPermissionsKey,
	"default_permissions": defaultPermissionsKey,
	"default_permission":  defaultPermissionsKey,
}

func defaultPermissionsKey(cp *configParser, a *AuthOptions, v cval) {
	if p, ok := cp.permissions(v); ok {
		a.DefaultPermissions = p
	}
}

// userEntry is one element of a users array while it is being read.
type userEntry struct {
	user User
	nkey string
}

var userKeys = map[string]keyHandler[userEntry]{
	"user":     strKey(func(u *userEntry) *string { return &u.user.Username }),
	"username": strKey(func(u *userEntry) *string { return &u.user.Username }),
	"pass":     strKey(func(u *userEntry) *string { return &u.user.Password }),
	"password": strKey(func(u *userEntry) *string { return &u.user.Password }),
	"nkey":     strKey(func(u *userEntry) *string { return &u.nkey }),
	"permissions": func(cp *configParser, u *userEntry, v cval) {
		if p, ok := cp.permissions(v); ok {
			u.user.Permissions = p
		}
	},
}

func init() {
	// Aliases nats-server accepts; added here so the table stays a literal.
	userKeys["permission"] = userKeys["permissions"]
	userKeys["authorization"] = userKeys["permissions"]
}

// userList reads a users array; entries with an nkey become nkey users.
func (cp *configParser) userList(v cval, account string) ([]User, []NkeyUser) {
	list, ok := cp.array(v)
	if !ok {
		return nil, nil
	}
	var users []User
	var nkeys []NkeyUser
	for i, item := range list {
		iv := elemValue(item, v.path, i)
		m, ok := cp.mapValue(iv)
		if !ok {
			continue
		}
		var e userEntry
		applySection(cp, &e, m, userKeys, iv.path)
		switch {
		case e.nkey != "" && (e.user.Username != "" || e.user.Password != ""):
			cp.errorf(iv, "nkey users do not take user names or passwords")
		case e.nkey != "":
			nkeys = append(nkeys, NkeyUser{Nkey: e.nkey, Permissions: e.user.Permissions, Account: account})
		case e.user.Username == "":
			cp.errorf(iv, "user entry requires a user or an nkey")
		default:
			e.user.Account = account
			users = append(users, e.user)
		}
	}
	return users, nkeys
}

var permissionKeys = map[string]keyHandler[Permissions]{
	"publish": func(cp *configParser, p *Permissions, v cval) {
		p.Publish = cp.subjectPermission(v, false)
	},
	"subscribe": func(cp *configParser, p *Permissions, v cval) {
		p.Subscribe = cp.subjectPermission(v, true)
	},
	"allow_responses": allowResponsesKey,
}

func init() {
	permissionKeys["pub"] = permissionKeys["publish"]
	permissionKeys["sub"] = permissionKeys["subscribe"]
	permissionKeys["publish_allow_responses"] = permissionKeys["allow_responses"]
}

func (cp *configParser) permissions(v cval) (*Permissions, bool) {
	m, ok := cp.mapValue(v)
	if !ok {
		return nil, false
	}
	p := &Permissions{}
	before := len(cp.errs)
	applySection(cp, p, m, permissionKeys, v.path)
	return p, len(cp.errs) == before
}

// subjectPermission reads `"subj"`, `["a", "b"]` (an allow list) or
// `{allow: ..., deny: ...}`.
func (cp *configParser) subjectPermission(v cval, allowQueue bool) *SubjectPermission {
	if m, ok := v.v.(*conffile.Map); ok {
		sp := &SubjectPermission{}
		for _, e := range m.Entries() {
			xv := entryValue(e, v.path)
			switch strings.ToLower(e.Key) {
			case "allow":
				sp.Allow = cp.subjectList(xv, allowQueue)
			case "deny":
				sp.Deny = cp.subjectList(xv, allowQueue)
			default:
				cp.unknownKey(e.Key, xv, false, []string{"allow", "deny"})
			}
		}
		return sp
	}
	return &SubjectPermission{Allow: cp.subjectList(v, allowQueue)}
}

// subjectList reads one subject or an array of them, validating each.
func (cp *configParser) subjectList(v cval, allowQueue bool) []string {
	var raw []cval
	switch x := v.v.(type) {
	case string:
		raw = []cval{v}
	case []*conffile.Value:
		for i, item := range x {
			raw = append(raw, elemValue(item, v.path, i))
		}
	default:
		cp.errorf(v, "expected a subject or an array of subjects, got %s", describe(v))
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		s, ok := cp.str(r)
		if !ok {
			continue
		}
		if _, _, err := ParsePermEntry(s, allowQueue); err != nil {
			cp.errorf(r, "%v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// allowResponsesKey reads `true` or `{max: N, expires: "1m"}`.
func allowResponsesKey(cp *configParser, p *Permissions, v cval) {
	if b, ok := v.v.(bool); ok {
		if b {
			p.Response = &ResponsePermission{}
		}
		return
	}
	m, ok := cp.mapValue(v)
	if !ok {
		return
	}
	rp := &ResponsePermission{}
	applySection(cp, rp, m, responseKeys, v.path)
	p.Response = rp
}

var responseKeys = map[string]keyHandler[ResponsePermission]{
	"max": intKey(-1, 1<<31-1, func(r *ResponsePermission, n int64) { r.MaxMsgs = int(n) }),
	"expires": func(cp *configParser, r *ResponsePermission, v cval) {
		if d, ok := cp.duration(v); ok {
			r.Expires = d
		}
	},
}

func init() {
	for _, alias := range []string{"max_msgs", "max_messages", "max_responses"} {
		responseKeys[alias] = responseKeys["max"]
	}
	for _, alias := range []string{"expiration", "ttl"} {
		responseKeys[alias] = responseKeys["expires"]
	}
}

// accountsKey reads `accounts { NAME { users: [...] } ... }`.
func accountsKey(cp *configParser, o *Options, v cval) {
	m, ok := cp.mapValue(v)
	if !ok {
		return
	}
	for _, e := range m.Entries() {
		name, av := e.Key, entryValue(e, v.path)
		am, ok := cp.mapValue(av)
		if !ok {
			continue
		}
		acc := accountEntry{name: name}
		applySection(cp, &acc, am, accountKeys, av.path)
		if acc.jetstream == nil {
			acc.jetstream = &AccountJetStream{} // declared without JetStream
		}
		o.Accounts = append(o.Accounts, AccountOptions{Name: name, JetStream: acc.jetstream, Exports: acc.exports, Imports: acc.imports})
		cp.accountUsers = append(cp.accountUsers, acc.users...)
		cp.accountNkeys = append(cp.accountNkeys, acc.nkeys...)
	}
}

type accountEntry struct {
	name      string
	users     []User
	nkeys     []NkeyUser
	jetstream *AccountJetStream
	exports   []ExportOptions // file_accounts.go
	imports   []ImportOptions
}

var accountKeys = map[string]keyHandler[accountEntry]{
	"users": func(cp *configParser, a *accountEntry, v cval) {
		a.users, a.nkeys = cp.userList(v, a.name)
	},
}

// finishAuth merges the users found in accounts into the users list.
func (cp *configParser) finishAuth(o *Options) {
	o.Auth.Users = append(o.Auth.Users, cp.accountUsers...)
	o.Auth.Nkeys = append(o.Auth.Nkeys, cp.accountNkeys...)
	if o.JetStream && len(o.Accounts) > 0 && !slices.ContainsFunc(o.Accounts, func(a AccountOptions) bool {
		return a.JetStream != nil && a.JetStream.Enabled
	}) {
		o.ConfigWarnings = append(o.ConfigWarnings, cp.file+": JetStream is on but no account enables it "+
			"(`jetstream: enabled` in an account); with accounts declared, only those that do have JetStream")
	}
}
