package broker_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/midgemq/midge/server"
	"github.com/nats-io/nats.go"
)

func tlsServer(t *testing.T, pki *testutil.PKI, mutate ...func(*config.Options)) *server.Server {
	t.Helper()
	return testutil.StartServer(t, append([]func(*config.Options){func(o *config.Options) {
		o.TLS.Config = pki.ServerTLS()
	}}, mutate...)...)
}

func TestTLSWithNatsGo(t *testing.T) {
	pki := testutil.NewPKI(t)
	s := tlsServer(t, pki)
	info := testutil.RawInfo(t, s)
	if info["tls_required"] != true || info["tls_verify"] != nil {
		t.Fatalf("INFO %v", info)
	}
	nc := testutil.Connect(t, s, nats.Secure(pki.ClientTLS(nil)))
	testutil.PubSubWorks(t, nc)
	if st, err := nc.TLSConnectionState(); err != nil || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %v, %v", st.Version, err)
	}
}

// The certificates come from files, and clients must present one signed
// by the CA.
func TestTLSVerifyFromFiles(t *testing.T) {
	pki := testutil.NewPKI(t)
	dir := t.TempDir()
	certFile, keyFile := pki.Server.WriteFiles(t, dir, "server")
	caFile, _ := pki.CA.WriteFiles(t, dir, "ca")
	s := testutil.StartServer(t, func(o *config.Options) {
		o.TLS = config.TLSOptions{CertFile: certFile, KeyFile: keyFile, CAFile: caFile, Verify: true}
	})
	if info := testutil.RawInfo(t, s); info["tls_verify"] != true {
		t.Fatalf("INFO %v", info)
	}
	client := pki.ClientCert(t, pkix.Name{CommonName: "client"})
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.Secure(pki.ClientTLS(client))))

	if err := testutil.ConnectErr(t, s, nats.Secure(pki.ClientTLS(nil))); err == nil {
		t.Fatal("connected without a client certificate")
	}
	stranger := testutil.NewPKI(t).ClientCert(t, pkix.Name{CommonName: "stranger"})
	if err := testutil.ConnectErr(t, s, nats.Secure(pki.ClientTLS(stranger))); err == nil {
		t.Fatal("connected with a certificate from another CA")
	}
	testutil.WaitFor(t, "handshake failures counted", func() bool { return s.Stats().Violations.TLSHandshakeFailures == 2 })
}

func TestPlaintextClientOnTLSPort(t *testing.T) {
	s := tlsServer(t, testutil.NewPKI(t))
	rc := testutil.DialRaw(t, s)
	rc.Send("CONNECT {}\r\nPING\r\n")
	rc.Expect("-ERR 'Secure Connection - TLS Required'\r\n")
	rc.ExpectClosed()
	if got := s.Stats().Violations.TLSHandshakeFailures; got != 1 {
		t.Fatalf("TLS failures = %d", got)
	}
}

func TestTLSHandshakeTimeout(t *testing.T) {
	s := tlsServer(t, testutil.NewPKI(t), func(o *config.Options) { o.TLS.Timeout = 100 * time.Millisecond })
	rc := testutil.DialRaw(t, s)
	rc.ExpectClosed() // never started a handshake
	testutil.WaitFor(t, "client gone", func() bool { return s.NumClients() == 0 })
}

func TestTLSBelow12Refused(t *testing.T) {
	pki := testutil.NewPKI(t)
	s := tlsServer(t, pki)
	old := pki.ClientTLS(nil)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if err := testutil.ConnectErr(t, s, nats.Secure(old)); err == nil {
		t.Fatal("a TLS 1.1 client connected")
	}
}

func TestTLSCertificateMapsToUser(t *testing.T) {
	pki := testutil.NewPKI(t)
	s := tlsServer(t, pki, func(o *config.Options) {
		o.TLS.Config.ClientCAs = pki.Pool
		o.TLS.Map = true
		o.Auth.Users = []config.User{
			{Username: "alice@example.com"},
			{Username: "CN=bob,O=Acme", Permissions: &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"bob.>"}}}},
		}
	})
	alice := pki.ClientCert(t, pkix.Name{CommonName: "alice"}, "alice@example.com")
	testutil.PubSubWorks(t, testutil.Connect(t, s, nats.Secure(pki.ClientTLS(alice))))

	bob := pki.ClientCert(t, pkix.Name{CommonName: "bob", Organization: []string{"Acme"}})
	var errs testutil.AsyncErrors
	nc := testutil.Connect(t, s, nats.Secure(pki.ClientTLS(bob)), errs.Handler())
	nc.Publish("alice.x", nil) // bob's permissions apply
	if e := errs.Next(t); !strings.Contains(strings.ToLower(e), "permissions violation") {
		t.Fatalf("async error %q", e)
	}

	carol := pki.ClientCert(t, pkix.Name{CommonName: "carol"})
	if err := testutil.ConnectErr(t, s, nats.Secure(pki.ClientTLS(carol))); !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("unmapped certificate: err = %v", err)
	}
	// A user/password login cannot stand in for a certificate.
	if err := testutil.ConnectErr(t, s, nats.Secure(pki.ClientTLS(carol)), nats.UserInfo("alice@example.com", "")); !errors.Is(err, nats.ErrAuthorization) {
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
		if _, err := server.New(o, nil); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}
