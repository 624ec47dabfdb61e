package broker

import (
	"testing"

	"github.com/midgemq/midge/config"
)

// BenchmarkDeliverWithPermissions is BenchmarkDeliver's one-subscriber
// case with a publisher restricted by allow and deny lists and a
// subscriber whose wildcard subscription needs the delivery deny filter:
// allowed publishes must stay as cheap, and allocation-free.
func BenchmarkDeliverWithPermissions(b *testing.B) {
	s, err := New(config.Options{Host: "127.0.0.1"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	pub := newClient(s, discardConn{}, Transport{})
	pub.ProcessConnect([]byte(`{"verbose":false,"pedantic":false,"headers":true}`))
	pub.sec.perms.Store(mustCompile(b, &config.Permissions{Publish: &config.SubjectPermission{
		Allow: []string{"bench.>", "metrics.*", "orders.>"}, Deny: []string{"bench.secret", "orders.admin.>"}}}))
	sub := newClient(s, discardConn{}, Transport{})
	sub.ProcessConnect([]byte(`{"verbose":false,"headers":true}`))
	sub.sec.perms.Store(mustCompile(b, &config.Permissions{Subscribe: &config.SubjectPermission{Deny: []string{"bench.secret"}}}))
	sub.ProcessSub([]byte("bench.>"), nil, []byte("1"))

	msg := []byte("PUB bench.x 16\r\n0123456789abcdef\r\n")
	b.SetBytes(16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := pub.parser.Parse(msg); err != nil {
			b.Fatal(err)
		}
		pub.prod.endRead()
		if i%64 == 0 {
			drain([]*client{sub})
		}
	}
	if sub.stats.outMsgs.Load() != int64(b.N) {
		b.Fatalf("delivered %d of %d", sub.stats.outMsgs.Load(), b.N)
	}
}
