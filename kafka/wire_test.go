package kafka

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawConn speaks the framing by hand, for requests no client would send.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes a request frame for req at its set version, with the given
// header key/version overriding req's when key >= 0.
func (c *rawConn) send(req kmsg.Request, correlationID int32) {
	c.t.Helper()
	frame := kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw")).AppendRequest(nil, req, correlationID)
	if _, err := c.nc.Write(frame); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawConn) sendBytes(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read reads a response frame into resp (whose version must be set) and
// returns its correlation id.
func (c *rawConn) read(resp kmsg.Response) int32 {
	c.t.Helper()
	frame, err := readFrame(c.br, 1<<24)
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	corr := int32(binary.BigEndian.Uint32(frame))
	body := frame[4:]
	if resp.IsFlexible() && resp.Key() != keyApiVersions {
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		c.t.Fatalf("decoding %T: %v", resp, err)
	}
	return corr
}

// expectClosed waits for the server to close the connection.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	if _, err := c.br.ReadByte(); err != io.EOF {
		c.t.Fatalf("connection not closed: %v", err)
	}
}

func TestApiVersionsAdvertisesOnlyImplementedVersions(t *testing.T) {
	b := startBroker(t, Config{})
	c := dialRaw(t, b.addr())
	req := kmsg.NewPtrApiVersionsRequest()
	req.SetVersion(3)
	req.ClientSoftwareName, req.ClientSoftwareVersion = "raw", "1"
	c.send(req, 7)
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(3)
	if corr := c.read(resp); corr != 7 || resp.ErrorCode != 0 {
		t.Fatalf("corr %d error %d", corr, resp.ErrorCode)
	}
	got := make(map[int16][2]int16)
	for _, k := range resp.ApiKeys {
		got[k.ApiKey] = [2]int16{k.MinVersion, k.MaxVersion}
	}
	if len(got) != len(supported) {
		t.Fatalf("advertised %d apis, implement %d", len(got), len(supported))
	}
	for key, r := range supported {
		if got[key] != [2]int16{r.min, r.max} {
			t.Fatalf("api %d advertised %v, implemented %v", key, got[key], r)
		}
	}
}

func TestUnsupportedVersionsAreAnsweredWithUnsupportedVersion(t *testing.T) {
	b := startBroker(t, Config{})
	c := dialRaw(t, b.addr())

	// ApiVersions newer than kmsg knows: a v0 answer with error 35 and
	// the ranges, on which clients retry.
	frame := []byte{0, 0, 0, 12, 0, 18, 0, 99, 0, 0, 0, 1, 0, 2, 'c', 'l'}
	c.sendBytes(frame)
	av := kmsg.NewPtrApiVersionsResponse()
	av.SetVersion(0)
	if corr := c.read(av); corr != 1 || av.ErrorCode != errUnsupportedVersion || len(av.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v99: corr %d error %d keys %d", corr, av.ErrorCode, len(av.ApiKeys))
	}

	// Metadata v13 exists but is not implemented: its error field says so.
	md := kmsg.NewPtrMetadataRequest()
	md.SetVersion(13)
	c.send(md, 2)
	mr := kmsg.NewPtrMetadataResponse()
	mr.SetVersion(13)
	if corr := c.read(mr); corr != 2 || mr.ErrorCode != errUnsupportedVersion {
		t.Fatalf("Metadata v13: corr %d error %d", corr, mr.ErrorCode)
	}

	// Produce v2 predates record batches v2: refused, connection kept.
	pr := kmsg.NewPtrProduceRequest()
	pr.SetVersion(2)
	pr.Acks = 1
	c.send(pr, 3)
	prr := kmsg.NewPtrProduceResponse()
	prr.SetVersion(2)
	if corr := c.read(prr); corr != 3 {
		t.Fatalf("Produce v2: corr %d", corr)
	}

	// The connection still works.
	c.send(kmsg.NewPtrMetadataRequest(), 4)
	mr = kmsg.NewPtrMetadataResponse()
	if corr := c.read(mr); corr != 4 || len(mr.Brokers) != 1 {
		t.Fatalf("Metadata after refusals: corr %d brokers %v", corr, mr.Brokers)
	}
	if st := b.srv.Stats(); st.Unsupported != 3 {
		t.Fatalf("unsupported count %d, want 3", st.Unsupported)
	}

	// An api key nobody knows cannot be answered in its own format: the
	// connection is closed (and logged with the reason).
	c.sendBytes([]byte{0, 0, 0, 10, 0x7f, 0, 0, 0, 0, 0, 0, 5, 0xff, 0xff})
	c.expectClosed()
}

func TestMalformedAndOversizedFramesCloseTheConnection(t *testing.T) {
	b := startBroker(t, Config{MaxRequestSize: 1 << 16})
	// Header only, body missing: Metadata v1 needs a topic array.
	c := dialRaw(t, b.addr())
	c.sendBytes([]byte{0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 9, 0xff, 0xff})
	mr := kmsg.NewPtrMetadataResponse()
	mr.SetVersion(1)
	if corr := c.read(mr); corr != 9 {
		t.Fatalf("corr %d", corr)
	}
	c.expectClosed()

	// A size prefix over the limit.
	c = dialRaw(t, b.addr())
	c.sendBytes([]byte{0x7f, 0xff, 0xff, 0xff})
	c.expectClosed()

	// A negative size.
	c = dialRaw(t, b.addr())
	c.sendBytes([]byte{0xff, 0xff, 0xff, 0xf0})
	c.expectClosed()
	if st := b.srv.Stats(); st.Malformed != 3 {
		t.Fatalf("malformed count %d, want 3", st.Malformed)
	}
}
