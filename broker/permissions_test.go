package broker

import (
	"fmt"
	"testing"
	"time"

	"github.com/midgemq/midge/config"
)

func mustCompile(t testing.TB, p *config.Permissions) *Permissions {
	t.Helper()
	ps, err := compilePermissions(p)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func TestPublishPermissionDecisions(t *testing.T) {
	ps := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{
		Allow: []string{"orders.>", "metrics.*"}, Deny: []string{"orders.secret", "orders.admin.>"}}})
	for subject, want := range map[string]bool{
		"orders.new": true, "orders.a.b": true, "metrics.cpu": true,
		"orders.secret": false, "orders.admin.x": false, "metrics.cpu.1": false, "other": false, "orders": false,
	} {
		if got := ps.pubAllowed(subject); got != want {
			t.Errorf("publish %q: %v, want %v", subject, got, want)
		}
	}
	denyOnly := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{Deny: []string{"$SYS.>"}}})
	if !denyOnly.pubAllowed("anything") || denyOnly.pubAllowed("$SYS.x") {
		t.Error("deny-only list: wrong decision")
	}
	none := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{}}})
	if none.pubAllowed("x") {
		t.Error("an empty allow list must allow nothing")
	}
	respOnly := mustCompile(t, &config.Permissions{Response: &config.ResponsePermission{}})
	if respOnly.pubAllowed("x") || respOnly.resp.MaxMsgs != 1 || respOnly.resp.Expires != config.DefaultResponseExpires {
		t.Errorf("allow_responses alone: %+v", respOnly.resp)
	}
}

func TestSubscribePermissionDecisions(t *testing.T) {
	ps := mustCompile(t, &config.Permissions{Subscribe: &config.SubjectPermission{
		Allow: []string{"foo.*", "bar.>", "jobs workers", "jobs.*", "jobs.* v1.*"},
		Deny:  []string{"bar.secret.>", "bar.x", "jobs.a bad"},
	}})
	for _, tc := range []struct {
		subject, queue string
		want           bool
	}{
		{"foo.a", "", true}, {"foo.*", "", true},
		{"foo.>", "", false},                       // wider than the allow: refused (nats-server allows)
		{"bar.a.b", "", true}, {"bar.>", "", true}, // overlaps denies: allowed, filtered on delivery
		{"bar.secret.x", "", false}, {"bar.secret.*", "", false}, {"bar.x", "", false},
		{"jobs", "", false}, {"jobs", "workers", true}, {"jobs", "other", false}, // queue-only entry
		{"jobs.a", "", true}, {"jobs.a", "v1.blue", true}, {"jobs.a", "v2", false},
		{"jobs.a", "bad", false}, {"jobs.b", "bad", false}, // "jobs.* v1.*" limits queues on jobs.*
		{"other", "", false},
	} {
		if got := ps.subAllowed(tc.subject, tc.queue); got != tc.want {
			t.Errorf("SUB %q %q: %v, want %v", tc.subject, tc.queue, got, tc.want)
		}
	}
	if f := ps.denyFilter("bar.>", ""); len(f) != 2 {
		t.Errorf("deny filter of bar.>: %v", f)
	}
	if f := ps.denyFilter("bar.a", ""); f != nil {
		t.Errorf("literal subscription needs no filter: %v", f)
	}
	if !deliveryDenied([]byte("bar.secret.k"), ps.denyFilter("bar.>", "")) ||
		deliveryDenied([]byte("bar.ok"), ps.denyFilter("bar.>", "")) {
		t.Error("delivery filter decisions wrong")
	}
}

func TestPermissionEntriesValidated(t *testing.T) {
	for _, p := range []*config.Permissions{
		{Publish: &config.SubjectPermission{Allow: []string{"a b"}}}, // no queues on publish
		{Publish: &config.SubjectPermission{Deny: []string{"a.>.b"}}},
		{Subscribe: &config.SubjectPermission{Allow: []string{"a b c"}}},
		{Subscribe: &config.SubjectPermission{Deny: []string{""}}},
	} {
		if _, err := compilePermissions(p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestReplyGrantsBounded(t *testing.T) {
	rp := &config.ResponsePermission{MaxMsgs: 1, Expires: time.Hour}
	var r replyPerms
	for i := 0; i < replyGrantsMax+replyPruneEvery; i++ {
		r.grant(fmt.Sprintf("_INBOX.%d", i), rp)
	}
	if n := r.len(); n != replyGrantsMax {
		t.Fatalf("%d grants held, want the cap %d", n, replyGrantsMax)
	}
	if !r.use("_INBOX.1", rp) || r.use("_INBOX.1", rp) {
		t.Fatal("a grant must allow exactly one reply")
	}
	expiring := &config.ResponsePermission{MaxMsgs: -1, Expires: time.Minute}
	var e replyPerms
	e.grant("x", expiring)
	e.m["x"].granted = time.Now().Add(-2 * time.Minute) // as if granted long ago
	if e.use("x", expiring) {
		t.Fatal("expired grant used")
	}
}

func TestPublishPermissionCacheBounded(t *testing.T) {
	s, err := New(config.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(s, discardConn{}, Transport{})
	ps := mustCompile(t, &config.Permissions{Publish: &config.SubjectPermission{Allow: []string{"p.>"}}})
	for i := 0; i < 3*pubPermCacheSize; i++ {
		if !c.checkPublish(ps, []byte(fmt.Sprintf("p.%d", i))) || c.checkPublish(ps, []byte(fmt.Sprintf("q.%d", i))) {
			t.Fatal("wrong decision")
		}
		if n := len(c.sec.pubCache); n > pubPermCacheSize {
			t.Fatalf("publish permission cache holds %d entries", n)
		}
	}
	// Hits answer from the cache without allocating.
	subject := []byte("p.hot")
	c.checkPublish(ps, subject)
	if allocs := testing.AllocsPerRun(100, func() { c.checkPublish(ps, subject) }); allocs != 0 {
		t.Fatalf("cached check allocates %v times", allocs)
	}
}
