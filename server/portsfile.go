package server

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
)

// The ports file tells harnesses and orchestrators where a server started
// with -1 ports listens: DIR/<executable>_<pid>.ports with the URLs of every
// listener, in nats-server's keys. It appears (atomically) once every
// listener is up and is removed on shutdown.

// portsFile is the file's JSON.
type portsFile struct {
	Nats       []string `json:"nats,omitempty"`
	Monitoring []string `json:"monitoring,omitempty"`
	WebSocket  []string `json:"websocket,omitempty"`
	Cluster    []string `json:"cluster,omitempty"`
	MQTT       []string `json:"mqtt,omitempty"`  // midge's own addition
	Kafka      []string `json:"kafka,omitempty"` // midge's own addition
}

// portsFilePath is where this process writes its ports file.
func (s *Server) portsFilePath() string {
	exe := filepath.Base(os.Args[0])
	return filepath.Join(s.Options().PortsFileDir, fmt.Sprintf("%s_%d.ports", exe, os.Getpid()))
}

// writePortsFile lists the listeners' URLs; called once they are all up.
func (s *Server) writePortsFile() error {
	if s.Options().PortsFileDir == "" {
		return nil
	}
	pf := portsFile{Nats: listenerURLs("nats", s.Addr())}
	if a := s.MonitorAddr(); a != nil {
		pf.Monitoring = listenerURLs("http", a)
	}
	if a := s.WebSocketAddr(); a != nil {
		pf.WebSocket = listenerURLs(s.ws.Scheme(), a)
	}
	if a := s.MQTTAddr(); a != nil {
		pf.MQTT = listenerURLs("mqtt", a)
	}
	if a := s.KafkaAddr(); a != nil {
		// Kafka clients take bootstrap addresses without a scheme.
		pf.Kafka = listenerHostPorts(a)
	}
	if a := s.ClusterAddr(); a != nil {
		pf.Cluster = listenerURLs("nats", a)
	}
	data, err := json.Marshal(pf)
	if err != nil {
		return err
	}
	path := s.portsFilePath()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing ports file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing ports file: %w", err)
	}
	s.log.Info("ports file written", "file", path)
	return nil
}

func (s *Server) removePortsFile() {
	if s.Options().PortsFileDir != "" {
		os.Remove(s.portsFilePath())
	}
}

// listenerURLs lists scheme://host:port for a listener; an unspecified
// address stands for every address of every interface, as nats-server
// lists them.
func listenerURLs(scheme string, a *net.TCPAddr) []string {
	urls := listenerHostPorts(a)
	for i, hp := range urls {
		urls[i] = scheme + "://" + hp
	}
	return urls
}

// listenerHostPorts is listenerURLs without the scheme.
func listenerHostPorts(a *net.TCPAddr) []string {
	port := strconv.Itoa(a.Port)
	if a.IP != nil && !a.IP.IsUnspecified() {
		return []string{net.JoinHostPort(a.IP.String(), port)}
	}
	var out []string
	addrs, err := net.InterfaceAddrs()
	if err != nil || len(addrs) == 0 {
		return []string{net.JoinHostPort("127.0.0.1", port)}
	}
	for _, addr := range addrs {
		if ipn, ok := addr.(*net.IPNet); ok {
			out = append(out, net.JoinHostPort(ipn.IP.String(), port))
		}
	}
	return out
}
