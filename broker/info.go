package broker

import (
	"crypto/tls"
	"encoding/json"
	"runtime"
	"slices"

	"github.com/midgemq/midge/parser"
)

// Version is midge's own version.
const Version = "0.1.0"

// ProtocolVersion is the nats-server version midge advertises in INFO and
// /varz. Clients gate features on it (natscli refuses counters and atomic
// batches below 2.12, nats.js much of its API below 2.14), so it names the
// reference release whose client-visible JetStream behaviour midge
// implements; what midge still lacks of it is listed in the README.
const ProtocolVersion = "2.14.0"

// serverInfo is the INFO JSON. Field names and omissions follow the
// reference server; clients replace their copy with each INFO they get.
type serverInfo struct {
	ServerID     string `json:"server_id"`
	ServerName   string `json:"server_name"`
	Version      string `json:"version"`
	Proto        int    `json:"proto"`
	GoVersion    string `json:"go"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	Headers      bool   `json:"headers"`
	MaxPayload   int    `json:"max_payload"`
	JetStream    bool   `json:"jetstream,omitempty"`
	ClientID     uint64 `json:"client_id,omitempty"`
	ClientIP     string `json:"client_ip,omitempty"`
	AuthRequired bool   `json:"auth_required,omitempty"`
	TLSRequired  bool   `json:"tls_required,omitempty"`
	TLSAvailable bool   `json:"tls_available,omitempty"`
	TLSVerify    bool   `json:"tls_verify,omitempty"`
	Nonce        string `json:"nonce,omitempty"`
	LameDuckMode bool   `json:"ldm,omitempty"`
	// Cluster and ConnectURLs tell a client of a clustered server the
	// cluster's name and the client URLs of its servers, which clients
	// fail over to.
	Cluster     string   `json:"cluster,omitempty"`
	ConnectURLs []string `json:"connect_urls,omitempty"`
}

// Transport is how a NATS-protocol connection reached the broker, as its
// INFO describes it.
type Transport struct {
	Kind Kind
	// TLS is the transport's own TLS state (WebSocket over HTTPS), nil
	// otherwise.
	TLS *tls.ConnectionState
	// Host and Port are the listener's address as INFO states it.
	Host string
	Port int
	// TLSRequired and TLSVerify state the transport's TLS (WebSocket); a
	// KindNATS connection is told the broker's own TLS settings instead,
	// and upgrades inside the stream.
	TLSRequired, TLSVerify bool
}

// info is the INFO a client gets: the broker's settings, the transport's
// listener and what is particular to the client.
func (c *client) info() serverInfo {
	b := c.broker
	o := b.Options()
	info := serverInfo{
		ServerID:   b.id,
		ServerName: b.name,
		Version:    ProtocolVersion,
		Proto:      1,
		GoVersion:  runtime.Version(),
		Host:       c.transport.Host,
		Port:       c.transport.Port,
		Headers:    true,
		MaxPayload: o.MaxPayload,
		JetStream:  o.JetStream,

		ClientID:     c.cid,
		ClientIP:     c.host,
		Nonce:        c.sec.nonce,
		AuthRequired: c.sec.auth.required,
		TLSRequired:  c.transport.TLSRequired,
		TLSVerify:    c.transport.TLSVerify,
		LameDuckMode: b.lameDuck.Load(),
	}
	if c.kind == KindNATS {
		if o.Cluster.Enabled() {
			info.Cluster = b.ClusterName()
		}
		if urls := b.connectURLs.Load(); urls != nil {
			info.ConnectURLs = *urls
		}
		// With allow_non_tls the client chooses: TLS is offered, not required.
		info.TLSRequired = b.tlsConfig != nil && !o.AllowNonTLS
		info.TLSAvailable = b.tlsConfig != nil && o.AllowNonTLS
		info.TLSVerify = b.tlsConfig != nil && b.tlsConfig.ClientAuth == tls.RequireAndVerifyClientCert
	}
	return info
}

// infoLine renders the client's INFO line.
func (c *client) infoLine() []byte {
	js, err := json.Marshal(c.info())
	if err != nil {
		panic("broker: INFO does not marshal: " + err.Error()) // fixed struct of plain fields
	}
	return parser.AppendInfo(nil, js)
}

// SetClusterName sets the cluster name INFO tells clients (a cluster whose
// name was not configured learns it from its peers).
func (b *Broker) SetClusterName(name string) { b.clusterName.Store(&name) }

// ClusterName is the name of the server's cluster; empty without one.
func (b *Broker) ClusterName() string {
	if n := b.clusterName.Load(); n != nil {
		return *n
	}
	return b.Options().Cluster.Name
}

// SetConnectURLs sets the client URLs of the cluster's servers (host:port),
// which INFO lists in connect_urls, and sends the new INFO to the
// connected TCP clients that take asynchronous INFOs, so that they know
// where to go should this server fail.
func (b *Broker) SetConnectURLs(urls []string) {
	urls = append([]string(nil), urls...)
	if old := b.connectURLs.Load(); old != nil && slices.Equal(*old, urls) {
		return
	}
	b.connectURLs.Store(&urls)
	for _, c := range b.natsClients() {
		if c.kind == KindNATS {
			c.sendAsyncInfo()
		}
	}
}
