package broker_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
	"github.com/nats-io/nats.go"
)

// With allow_non_tls next to a tls block, one port serves both: INFO
// offers TLS (tls_available) instead of requiring it, a client that starts
// a handshake gets TLS, and a plaintext client stays plaintext. The same
// configuration text runs midge and the reference server.
func TestAllowNonTLSServesBothOnOnePort(t *testing.T) {
	pki := testutil.NewPKI(t)
	dir := t.TempDir()
	certFile, keyFile := pki.Server.WriteFiles(t, dir, "server")
	conf := "tls { cert_file: \"" + certFile + "\", key_file: \"" + keyFile + "\" }\nallow_non_tls: true\n"

	infoOffersTLS := func(t *testing.T, clientURL string) {
		info := rawInfoAt(t, clientURL)
		if info["tls_available"] != true || info["tls_required"] != nil {
			t.Errorf("INFO offers %v, requires %v; want tls_available true and tls_required absent",
				info["tls_available"], info["tls_required"])
		}
	}
	check := func(t *testing.T, clientURL string) {
		plain, err := nats.Connect(clientURL, nats.MaxReconnects(0))
		if err != nil {
			t.Fatalf("plaintext client: %v", err)
		}
		defer plain.Close()
		if _, err := plain.TLSConnectionState(); err == nil {
			t.Error("the plaintext client ended up on TLS")
		}
		secure, err := nats.Connect(clientURL, nats.MaxReconnects(0), nats.Secure(pki.ClientTLS(nil)))
		if err != nil {
			t.Fatalf("TLS client: %v", err)
		}
		defer secure.Close()
		if _, err := secure.TLSConnectionState(); err != nil {
			t.Errorf("the TLS client is not on TLS: %v", err)
		}
		// Messages cross between the two kinds of connection.
		sub, err := plain.SubscribeSync("mixed")
		if err != nil {
			t.Fatal(err)
		}
		testutil.Flush(t, plain)
		if err := secure.Publish("mixed", []byte("over tls")); err != nil {
			t.Fatal(err)
		}
		if m := testutil.NextMsg(t, sub); string(m.Data) != "over tls" {
			t.Fatalf("got %q", m.Data)
		}
	}

	t.Run("midge", func(t *testing.T) {
		parsed, err := config.ParseConfig(conf)
		if err != nil {
			t.Fatal(err)
		}
		if !parsed.AllowNonTLS {
			t.Fatal("allow_non_tls: true did not set AllowNonTLS")
		}
		s := testutil.StartServer(t, func(o *config.Options) {
			o.TLS, o.AllowNonTLS = parsed.TLS, parsed.AllowNonTLS
		})
		// The raw connection that read INFO and left counts as a failed
		// handshake; the plaintext client that follows must not.
		infoOffersTLS(t, s.ClientURL())
		testutil.WaitFor(t, "the INFO reader's close counted", func() bool { return s.Stats().Violations.TLSHandshakeFailures == 1 })
		check(t, s.ClientURL())
		if got := s.Stats().Violations.TLSHandshakeFailures; got != 1 {
			t.Errorf("%d TLS handshake failures counted, want only the INFO reader's", got)
		}
	})
	t.Run("reference", func(t *testing.T) {
		file := filepath.Join(dir, "ref.conf")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		r := testtools.StartReference(t, "-c", file)
		infoOffersTLS(t, r.URL)
		check(t, r.URL)
	})
}

// Without allow_non_tls a plaintext client is still refused (the default
// is unchanged by the option's existence).
func TestAllowNonTLSOffByDefault(t *testing.T) {
	o, err := config.ParseConfig("allow_non_tls: false\n")
	if err != nil || o.AllowNonTLS {
		t.Fatalf("%v %v", o.AllowNonTLS, err)
	}
	s := tlsServer(t, testutil.NewPKI(t))
	if info := testutil.RawInfo(t, s); info["tls_required"] != true || info["tls_available"] != nil {
		t.Fatalf("INFO %v", info)
	}
}

// rawInfoAt reads the INFO a new TCP connection to a client URL gets.
func rawInfoAt(t *testing.T, clientURL string) map[string]any {
	t.Helper()
	u, err := url.Parse(clientURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, testutil.RawTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(testutil.RawTimeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("reading INFO: %v", err)
	}
	var info map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(line, "INFO "), " \r\n")), &info); err != nil {
		t.Fatalf("INFO %q: %v", line, err)
	}
	return info
}
