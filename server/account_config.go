package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AccountOptions declare an account. Users join it through their Account
// field; each account is an isolated subject space.
type AccountOptions struct {
	Name string
}

// buildAccounts creates the configured accounts next to the global one.
// Declaring the global account's name just refers to it.
func buildAccounts(list []AccountOptions, gacc *Account) (map[string]*Account, error) {
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
		accs[a.Name] = newAccount(a.Name)
	}
	return accs, nil
}

// LookupAccount returns the account of that name; the global account is
// "$G".
func (s *Server) LookupAccount(name string) (*Account, bool) {
	a, ok := s.accounts[name]
	return a, ok
}

// Accounts returns every account, the global one included, sorted by name.
func (s *Server) Accounts() []*Account {
	out := make([]*Account, 0, len(s.accounts))
	for _, a := range s.accounts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *Account) int { return strings.Compare(a.name, b.name) })
	return out
}

// configureSecurity builds, from the options, what New fixes for the
// server's lifetime: accounts, the authenticator and the TLS configuration.
func (s *Server) configureSecurity() error {
	accs, err := buildAccounts(s.opts.Accounts, s.gacc)
	if err != nil {
		return err
	}
	s.accounts = accs
	if s.opts.TLS.enabled() {
		if s.tlsConfig, err = buildTLSConfig(&s.opts.TLS); err != nil {
			return err
		}
	} else if s.opts.TLS.Verify || s.opts.TLS.Map || s.opts.TLS.CAFile != "" {
		return errors.New("TLS verification needs a TLS certificate and key")
	}
	s.auth, err = newAuthenticator(&s.opts, s)
	return err
}
