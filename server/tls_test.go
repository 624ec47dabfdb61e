package server

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/nats-io/nats.go"
)

func tlsServer(t *testing.T, pki *testPKI, mutate ...func(*config.Options)) *Server {
	t.Helper()
	return startServer(t, append([]func(*config.Options){func(o *config.Options) {
		o.TLS.Config = pki.serverTLS()
	}}, mutate...)...)
}

func TestTLSWithNatsGo(t *testing.T) {
	pki := newTestPKI(t)
	s := tlsServer(t, pki)
	info := rawInfo(t, s)
	if info["tls_required"] != true || info["tls_verify"] != nil {
		t.Fatalf("INFO %v", info)
	}
	nc := connect(t, s, nats.Secure(pki.clientTLS(nil)))
	pubSubWorks(t, nc)
	if st, err := nc.TLSConnectionState(); err != nil || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %v, %v", st.Version, err)
	}
}

// The certificates come from files, and clients must present one signed
// by the CA.
func TestTLSVerifyFromFiles(t *testing.T) {
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile := pki.server.writeFiles(t, dir, "server")
	caFile, _ := pki.ca.writeFiles(t, dir, "ca")
	s := startServer(t, func(o *config.Options) {
		o.TLS = config.TLSOptions{CertFile: certFile, KeyFile: keyFile, CAFile: caFile, Verify: true}
	})
	if info := rawInfo(t, s); info["tls_verify"] != true {
		t.Fatalf("INFO %v", info)
	}
	client := pki.clientCert(t, pkix.Name{CommonName: "client"})
	pubSubWorks(t, connect(t, s, nats.Secure(pki.clientTLS(client))))

	if err := connectErr(t, s, nats.Secure(pki.clientTLS(nil))); err == nil {
		t.Fatal("connected without a client certificate")
	}
	stranger := newTestPKI(t).clientCert(t, pkix.Name{CommonName: "stranger"})
	if err := connectErr(t, s, nats.Secure(pki.clientTLS(stranger))); err == nil {
		t.Fatal("connected with a certificate from another CA")
	}
	waitFor(t, "handshake failures counted", func() bool { return s.Stats().Violations.TLSHandshakeFailures == 2 })
}

func TestPlaintextClientOnTLSPort(t *testing.T) {
	s := tlsServer(t, newTestPKI(t))
	rc := dialRaw(t, s)
	rc.send("CONNECT {}\r\nPING\r\n")
	rc.expect("-ERR 'Secure Connection - TLS Required'\r\n")
	rc.expectClosed()
	if got := s.Stats().Violations.TLSHandshakeFailures; got != 1 {
		t.Fatalf("TLS failures = %d", got)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	s := tlsServer(t, newTestPKI(t), func(o *config.Options) { o.TLS.Timeout = 100 * time.Millisecond })
	rc := dialRaw(t, s)
	rc.expectClosed() // never started a handshake
	waitFor(t, "client gone", func() bool { return s.NumClients() == 0 })
}

func TestTLSBelow12Refused(t *testing.T) {
	pki := newTestPKI(t)
	s := tlsServer(t, pki)
	old := pki.clientTLS(nil)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if err := connectErr(t, s, nats.Secure(old)); err == nil {
		t.Fatal("a TLS 1.1 client connected")
	}
}

func TestTLSCertificateMapsToUser(t *testing.T) {
	pki := newTestPKI(t)
	s := tlsServer(t, pki, func(o *config.Options) {
		o.TLS.Config.ClientCAs = pki.pool
		o.TLS.Map = true
		o.Auth.Users = []config.User{
			{Username: "alice@example.com"},
			{Username: "CN=bob,O=Acme", Permissions: &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"bob.>"}}}},
		}
	})
	alice := pki.clientCert(t, pkix.Name{CommonName: "alice"}, "alice@example.com")
	pubSubWorks(t, connect(t, s, nats.Secure(pki.clientTLS(alice))))

	bob := pki.clientCert(t, pkix.Name{CommonName: "bob", Organization: []string{"Acme"}})
	var errs asyncErrors
	nc := connect(t, s, nats.Secure(pki.clientTLS(bob)), errs.handler())
	nc.Publish("alice.x", nil) // bob's permissions apply
	if e := errs.next(t); !strings.Contains(strings.ToLower(e), "permissions violation") {
		t.Fatalf("async error %q", e)
	}

	carol := pki.clientCert(t, pkix.Name{CommonName: "carol"})
	if err := connectErr(t, s, nats.Secure(pki.clientTLS(carol))); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("unmapped certificate: err = %v", err)
	}
	// A user/password login cannot stand in for a certificate.
	if err := connectErr(t, s, nats.Secure(pki.clientTLS(carol)), nats.UserInfo("alice@example.com", "")); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("password login with mapping on: err = %v", err)
	}
}

func TestTLSConfigurationErrors(t *testing.T) {
	for name, o := range map[string]config.Options{
		"verify without cert": {TLS: config.TLSOptions{Verify: true}},
		"cert without key":    {TLS: config.TLSOptions{CertFile: "x.pem"}},
		"missing files":       {TLS: config.TLSOptions{CertFile: "/nonexistent/c.pem", KeyFile: "/nonexistent/k.pem"}},
		"map without users":   {TLS: config.TLSOptions{Config: &tls.Config{}, Map: true}},
	} {
		if _, err := New(o, nil); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
