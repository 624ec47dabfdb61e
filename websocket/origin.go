package websocket

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// originPolicy is nats-server's origin check: with same_origin the Origin
// must match the request's own scheme, host and port; with allowed_origins
// it must be one of them; a request without Origin is not from a browser
// and is accepted.
type originPolicy struct {
	same    bool
	allowed []origin
}

type origin struct{ scheme, host, port string }

func newOriginPolicy(same bool, allowed []string) (originPolicy, error) {
	p := originPolicy{same: same}
	for _, a := range allowed {
		o, err := parseOrigin(a)
		if err != nil {
			return p, fmt.Errorf("allowed origin %q: %w", a, err)
		}
		p.allowed = append(p.allowed, o)
	}
	return p, nil
}

func parseOrigin(s string) (origin, error) {
	u, err := url.ParseRequestURI(s)
	if err != nil {
		return origin{}, err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return origin{}, errors.New("an origin is an http or https URL")
	}
	if u.Host == "" {
		return origin{}, errors.New("an origin needs a host")
	}
	host, port, err := hostPortDefault(u.Host, scheme == "https")
	return origin{scheme, host, port}, err
}

// hostPortDefault splits host:port, filling the scheme's default port.
func hostPortDefault(hostport string, https bool) (string, string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		var ae *net.AddrError
		if !errors.As(err, &ae) || !strings.Contains(ae.Err, "missing port") {
			return "", "", err
		}
		host, port = hostport, "80"
		if https {
			port = "443"
		}
	}
	return strings.ToLower(host), port, nil
}

func (p originPolicy) check(r *http.Request) error {
	if !p.same && len(p.allowed) == 0 {
		return nil
	}
	h := r.Header.Get("Origin")
	if h == "" {
		h = r.Header.Get("Sec-WebSocket-Origin")
	}
	if h == "" {
		return nil
	}
	o, err := parseOrigin(h)
	if err != nil {
		return err
	}
	if p.same {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		host, port, err := hostPortDefault(r.Host, r.TLS != nil)
		if err != nil {
			return err
		}
		if o != (origin{scheme, host, port}) {
			return errors.New("not the same origin")
		}
	}
	if len(p.allowed) > 0 {
		for _, a := range p.allowed {
			if a == o {
				return nil
			}
		}
		return errors.New("origin not in allowed_origins")
	}
	return nil
}
