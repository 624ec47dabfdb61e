package server

import (
	"crypto/tls"
	"encoding/json"
	"runtime"

	"github.com/midgemq/midge/parser"
)

// Version is midge's own version.
const Version = "0.1.0"

// ProtocolVersion is the nats-server version midge advertises in INFO.
// Clients gate features on it (PROTOCOL.md §2.1), so it names the reference
// release whose client-visible behaviour midge implements.
const ProtocolVersion = "2.10.0"

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
	TLSVerify    bool   `json:"tls_verify,omitempty"`
	Nonce        string `json:"nonce,omitempty"`
	LameDuckMode bool   `json:"ldm,omitempty"`
}

func (s *Server) baseInfo() serverInfo {
	return serverInfo{
		ServerID:   s.id,
		ServerName: s.name,
		Version:    ProtocolVersion,
		Proto:      1,
		GoVersion:  runtime.Version(),
		Host:       s.opts.Host,
		Port:       s.Addr().Port,
		Headers:    true,
		MaxPayload: s.getOpts().MaxPayload,
		JetStream:  s.opts.JetStream,

		AuthRequired: s.authn().required,
		TLSRequired:  s.tlsConfig != nil,
		TLSVerify:    s.tlsConfig != nil && s.tlsConfig.ClientAuth == tls.RequireAndVerifyClientCert,
	}
}

// infoLine renders the INFO line for one client accepted under a; nonce is
// empty unless nkey users may sign it.
func (s *Server) infoLine(a *authenticator, cid uint64, clientIP, nonce string) []byte {
	info := s.baseInfo()
	info.ClientID, info.ClientIP, info.Nonce = cid, clientIP, nonce
	info.AuthRequired = a.required
	js, err := json.Marshal(info)
	if err != nil {
		panic("server: INFO does not marshal: " + err.Error()) // fixed struct of plain fields
	}
	return parser.AppendInfo(nil, js)
}
