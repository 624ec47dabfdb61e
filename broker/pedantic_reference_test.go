package broker_test

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/midgemq/midge/internal/testtools"
	"github.com/midgemq/midge/internal/testutil"
)

// CONNECT's pedantic flag: with it, a published subject with wildcards or
// empty tokens gets -ERR 'Invalid Publish Subject' (and is still
// delivered); without it only subscriptions are checked. midge answers
// each session byte for byte as the reference server does.
func TestPedanticConnectAsReference(t *testing.T) {
	sessions := []string{
		"SUB foo.* 1\r\nPUB foo.* 1\r\nx\r\n",
		"PUB foo..bar 1\r\nx\r\n",
		"PUB foo.> 1\r\nx\r\n",
		"SUB foo..bar 1\r\n",
		"SUB foo 1\r\nPUB foo 1\r\nx\r\n",
	}
	s := testutil.StartServer(t)
	r := testtools.StartReference(t)
	for _, pedantic := range []string{"true", "false"} {
		for _, session := range sessions {
			full := `CONNECT {"verbose":false,"pedantic":` + pedantic + "}\r\n" + session + "PING\r\n"
			want := rawExchange(t, r.URL, full)
			if got := rawExchange(t, s.ClientURL(), full); got != want {
				t.Errorf("pedantic %s, %q:\n midge     %q\n reference %q", pedantic, session, got, want)
			}
		}
	}
}

// rawExchange sends a session ending in PING to a client URL and returns
// everything after INFO up to and including the PONG.
func rawExchange(t *testing.T, clientURL, session string) string {
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
	_ = conn.SetDeadline(time.Now().Add(testutil.RawTimeout))
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	if _, err := conn.Write([]byte(session)); err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for !strings.HasSuffix(got.String(), "PONG\r\n") {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", got.String(), err)
		}
		got.WriteString(line)
	}
	return got.String()
}
