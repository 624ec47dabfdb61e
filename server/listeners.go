package server

import (
	"net"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/monitor"
	"github.com/midgemq/midge/mqttgw"
	"github.com/midgemq/midge/websocket"
)

// The listeners besides NATS over TCP: each is an adapter around the broker
// that New configures and Start opens once the NATS listener is up.

// configureProtocols validates the extra listeners' options in New.
func (s *Server) configureProtocols() error {
	ws, err := websocket.New(s.broker)
	if err != nil {
		return err
	}
	mq, err := mqttgw.New(s.broker, s.js)
	if err != nil {
		return err
	}
	s.ws, s.mq = ws, mq
	s.configureKafka()
	return nil
}

// startProtocols opens the extra listeners once the NATS one is up.
func (s *Server) startProtocols() error {
	if s.ws != nil {
		if err := s.ws.Start(); err != nil {
			return err
		}
	}
	if s.mq != nil {
		if err := s.mq.Start(); err != nil {
			return err
		}
	}
	return s.startKafka()
}

// stopProtocols stops accepting on the extra listeners; their connections
// close with the broker's (Kafka's after JetStream closed: closeKafka).
func (s *Server) stopProtocols() {
	if s.ws != nil {
		s.ws.Close()
	}
	if s.mq != nil {
		s.mq.Close()
	}
	s.stopAcceptingKafka()
}

// WebSocketAddr is the address of the WebSocket listener, nil when off.
func (s *Server) WebSocketAddr() *net.TCPAddr {
	if s.ws == nil {
		return nil
	}
	return s.ws.Addr()
}

// WebSocketURL is a ws:// (or wss://) URL for local clients, "" when off.
func (s *Server) WebSocketURL() string {
	if s.ws == nil {
		return ""
	}
	return s.ws.URL()
}

// MQTTAddr is the address of the MQTT listener, nil when off.
func (s *Server) MQTTAddr() *net.TCPAddr {
	if s.mq == nil {
		return nil
	}
	return s.mq.Addr()
}

// MQTTURL is a tcp:// (or ssl://) URL for local MQTT clients, "" when off.
func (s *Server) MQTTURL() string {
	if s.mq == nil {
		return ""
	}
	return s.mq.URL()
}

// ProtocolStats returns the per-protocol counters.
func (s *Server) ProtocolStats() monitor.ProtocolStats {
	ps := monitor.ProtocolStats{
		NATS:      s.broker.Counters(broker.KindNATS),
		WebSocket: s.broker.Counters(broker.KindWebSocket),
		MQTT:      s.broker.Counters(broker.KindMQTT),
	}
	if s.ws != nil {
		ps.WebSocketOriginRefused = s.ws.OriginRefused()
	}
	if s.mq != nil {
		ps.MQTTMalformed = s.mq.Malformed()
	}
	ps.Kafka, ps.KafkaListener = s.kafkaStats()
	return ps
}
