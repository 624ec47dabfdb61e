package broker

import (
	"fmt"
	"strconv"
	"testing"
)

// benchEncoder formats like a route's RMSG line, without the route package.
type benchEncoder struct{}

func (benchEncoder) AppendMsg(dst []byte, account string, subject, reply []byte, queues []string, hdrLen, size int) []byte {
	dst = append(append(append(append(dst, "RMSG "...), account...), ' '), subject...)
	for _, q := range queues {
		dst = append(append(dst, ' '), q...)
	}
	return append(strconv.AppendInt(append(dst, ' '), int64(size), 10), '\r', '\n')
}

// BenchmarkDeliverToRemote is BenchmarkDeliver with the subscriber on
// another server: one plain remote subscription, or a queue group of one
// local and one remote member.
func BenchmarkDeliverToRemote(b *testing.B) {
	for _, queue := range []string{"", "q"} {
		b.Run(fmt.Sprintf("queue=%q", queue), func(b *testing.B) {
			pub, _ := benchClients(b, 0)
			s := pub.broker
			core := s.NewConn(discardConn{}, KindRoute, ConnHooks{})
			r := s.NewRemote(core, benchEncoder{})
			if _, err := r.Subscribe(s.gacc, "bench", queue, 3); err != nil {
				b.Fatal(err)
			}
			var locals []*client
			if queue != "" {
				local := newClient(s, discardConn{}, Transport{})
				local.ProcessConnect([]byte(`{"verbose":false}`))
				local.ProcessSub([]byte("bench"), []byte(queue), []byte("1"))
				locals = append(locals, local)
			}
			msg := []byte("PUB bench 16\r\n0123456789abcdef\r\n")
			b.SetBytes(16)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := pub.parser.Parse(msg); err != nil {
					b.Fatal(err)
				}
				pub.prod.endRead()
				if i%64 == 0 {
					core.w.flush(&core.out)
					drain(locals)
				}
			}
		})
	}
}
