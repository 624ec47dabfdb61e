package server

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
			accs[a.Name] = newAccount(a.Name)
		}
	}
	return accs, nil
}

// accountMap is the accounts in force; callers must not modify it.
func (s *Server) accountMap() map[string]*Account { return *s.accounts.Load() }

// authn is the authenticator in force.
func (s *Server) authn() *authenticator { return s.auth.Load() }

// LookupAccount returns the account of that name; the global account is
// "$G".
func (s *Server) LookupAccount(name string) (*Account, bool) {
	a, ok := s.accountMap()[name]
	return a, ok
}

// Accounts returns every account, the global one included, sorted by name.
func (s *Server) Accounts() []*Account {
	accs := s.accountMap()
	out := make([]*Account, 0, len(accs))
	for _, a := range accs {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Account) int { return strings.Compare(a.name, b.name) })
	return out
}

// configureSecurity builds, from the options, the accounts, the
// authenticator and the TLS configuration.
func (s *Server) configureSecurity() error {
	accs, err := buildAccounts(s.opts.Accounts, s.gacc, nil)
	if err != nil {
		return err
	}
	s.accounts.Store(&accs)
	if s.opts.TLS.Enabled() {
		if s.tlsConfig, err = buildTLSConfig(&s.opts.TLS); err != nil {
			return err
		}
	} else if s.opts.TLS.Verify || s.opts.TLS.Map || s.opts.TLS.CAFile != "" {
		return errors.New("TLS verification needs a TLS certificate and key")
	}
	a, err := newAuthenticator(&s.opts, accs)
	if err != nil {
		return err
	}
	s.auth.Store(a)
	return nil
}
