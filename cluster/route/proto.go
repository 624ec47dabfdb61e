package route

import (
	"strconv"
)

// The route protocol's wire format, as the reference server speaks it to a
// peer without route pooling (one connection per pair of servers, the
// account named in every interest and message line):
//
//	INFO {json}                     server identity, cluster, client URLs; also gossip
//	CONNECT {json}                  the soliciting side's greeting
//	PING / PONG                     liveness
//	RS+ <account> <subject>[ <queue> <weight>]
//	RS- <account> <subject>[ <queue>]
//	RMSG <account> <subject> [<reply>] <size>
//	RMSG <account> <subject> + <reply> <queue>... <size>     to those queue groups
//	RMSG <account> <subject> | <queue>... <size>             same, no reply
//	HMSG <account> <subject> ... <header size> <size>   the same with headers
//
// (The header form is often called HRMSG; on the wire the reference server
// writes and expects HMSG, and accepts nothing else from a route.)

// routeInfo is the INFO JSON of a route, with the reference server's field
// names. Fields midge does not send are read from peers that do.
type routeInfo struct {
	ID           string   `json:"server_id"`
	Name         string   `json:"server_name"`
	Version      string   `json:"version"`
	Proto        int      `json:"proto"`
	GoVersion    string   `json:"go"`
	Host         string   `json:"host"`
	Port         int      `json:"port"`
	Headers      bool     `json:"headers"`
	AuthRequired bool     `json:"auth_required,omitempty"`
	TLSRequired  bool     `json:"tls_required,omitempty"`
	MaxPayload   int      `json:"max_payload"`
	IP           string   `json:"ip,omitempty"` // a gossiped server's route URL
	Cluster      string   `json:"cluster,omitempty"`
	Dynamic      bool     `json:"cluster_dynamic,omitempty"`
	ConnectURLs  []string `json:"connect_urls,omitempty"`
	LameDuckMode bool     `json:"ldm,omitempty"`
	GossipMode   byte     `json:"gossip_mode,omitempty"`
	// Internal: the server carries midge's server-to-server traffic in
	// the reserved account (a reference server ignores the field).
	Internal bool `json:"midge_internal,omitempty"`

	// Route pooling and pinned accounts, which midge does not do: a pool
	// size of 0 tells a reference server to keep one connection.
	RoutePoolSize int    `json:"route_pool_size,omitempty"`
	RoutePoolIdx  int    `json:"route_pool_idx,omitempty"`
	RouteAccount  string `json:"route_account,omitempty"`
}

// routeProto is the route protocol version midge speaks: accounts in
// interest and message lines, and INFOs after the first.
const routeProto = 2

// connectInfo is the CONNECT JSON a soliciting server sends.
type connectInfo struct {
	Echo     bool   `json:"echo"`
	Verbose  bool   `json:"verbose"`
	Pedantic bool   `json:"pedantic"`
	TLS      bool   `json:"tls_required"`
	Headers  bool   `json:"headers"`
	Name     string `json:"name"` // the server's id
	Cluster  string `json:"cluster"`
	Dynamic  bool   `json:"cluster_dynamic,omitempty"`
	// A client that reached the route port by mistake says its language;
	// a route never does. A gateway names itself.
	Lang    string `json:"lang,omitempty"`
	Gateway string `json:"gateway,omitempty"`
}

var (
	pingLine = []byte("PING\r\n")
	pongLine = []byte("PONG\r\n")
)

// appendSub appends an RS+ line; weight is the number of local members of
// a queue group.
func appendSub(dst []byte, account, subject, queue string, weight int) []byte {
	dst = append(dst, "RS+ "...)
	dst = append(dst, account...)
	dst = append(dst, ' ')
	dst = append(dst, subject...)
	if queue != "" {
		dst = append(dst, ' ')
		dst = append(dst, queue...)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(weight), 10)
	}
	return append(dst, '\r', '\n')
}

// appendUnsub appends an RS- line.
func appendUnsub(dst []byte, account, subject, queue string) []byte {
	dst = append(dst, "RS- "...)
	dst = append(dst, account...)
	dst = append(dst, ' ')
	dst = append(dst, subject...)
	if queue != "" {
		dst = append(dst, ' ')
		dst = append(dst, queue...)
	}
	return append(dst, '\r', '\n')
}

// wire formats messages for a route; it implements broker.RemoteEncoder.
type wire struct{}

// AppendMsg appends the RMSG (or, with hdrLen >= 0, HMSG) control line.
func (wire) AppendMsg(dst []byte, account string, subject, reply []byte, queues []string, hdrLen, size int) []byte {
	if hdrLen >= 0 {
		dst = append(dst, "HMSG "...)
	} else {
		dst = append(dst, "RMSG "...)
	}
	dst = append(dst, account...)
	dst = append(dst, ' ')
	dst = append(dst, subject...)
	dst = append(dst, ' ')
	switch {
	case len(queues) > 0:
		if len(reply) > 0 {
			dst = append(dst, '+', ' ')
			dst = append(dst, reply...)
			dst = append(dst, ' ')
		} else {
			dst = append(dst, '|', ' ')
		}
		for _, q := range queues {
			dst = append(dst, q...)
			dst = append(dst, ' ')
		}
	case len(reply) > 0:
		dst = append(dst, reply...)
		dst = append(dst, ' ')
	}
	if hdrLen >= 0 {
		dst = strconv.AppendInt(dst, int64(hdrLen), 10)
		dst = append(dst, ' ')
	}
	dst = strconv.AppendInt(dst, int64(size), 10)
	return append(dst, '\r', '\n')
}
