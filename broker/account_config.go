package broker

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/midgemq/midge/config"
)

// buildAccounts creates the configured accounts next to the global one,
// reusing those of existing (the accounts in force, on a reload) by name.
// Declaring the global account's name just refers to it.
func buildAccounts(list []config.AccountOptions, gacc *Account, existing map[string]*Account) (map[string]*Account, error) {
	accs := map[string]*Account{GlobalAccountName: gacc}
	for _, a := range list {
		if a.Name == "" || strings.ContainsAny(a.Name, " \t\r\n") {
			return nil, fmt.Errorf("invalid account name %q", a.Name)
		}
		if a.Name == GlobalAccountName {
			continue
		}
		if _, dup := accs[a.Name]; dup {
			return nil, fmt.Errorf("account %q is defined twice", a.Name)
		}
		if acc := existing[a.Name]; acc != nil {
			accs[a.Name] = acc
		} else {
			accs[a.Name] = newAccount(a.Name, gacc.broker)
		}
	}
	return accs, nil
}

// accountMap is the accounts in force; callers must not modify it.
func (b *Broker) accountMap() map[string]*Account { return *b.accounts.Load() }

// authn is the authenticator in force.
func (b *Broker) authn() *authenticator { return b.auth.Load() }

// LookupAccount returns the account of that name; the global account is
// "$G".
func (b *Broker) LookupAccount(name string) (*Account, bool) {
	a, ok := b.accountMap()[name]
	return a, ok
}

// Accounts returns every account, the global one included, sorted by name.
func (b *Broker) Accounts() []*Account {
	accs := b.accountMap()
	out := make([]*Account, 0, len(accs))
	for _, a := range accs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Account) int { return strings.Compare(a.name, b.name) })
	return out
}

// configureSecurity builds, from the options, the accounts, the
// authenticator and the TLS configuration.
func (b *Broker) configureSecurity() error {
	o := b.Options()
	accs, err := buildAccounts(o.Accounts, b.gacc, nil)
	if err != nil {
		return err
	}
	if err := wireImports(o.Accounts, accs); err != nil {
		return err
	}
	b.accounts.Store(&accs)
	if o.TLS.Enabled() {
		if b.tlsConfig, err = o.TLS.ServerConfig(); err != nil {
			return err
		}
	} else if o.TLS.Verify || o.TLS.Map || o.TLS.CAFile != "" {
		return errors.New("TLS verification needs a TLS certificate and key")
	}
	a, err := newAuthenticator(o, accs)
	if err != nil {
		return err
	}
	b.auth.Store(a)
	return nil
}
