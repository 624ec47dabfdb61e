package server

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/kafka"
	"github.com/midgemq/midge/monitor"
)

// The Kafka listener: Kafka clients produce to and consume from the
// streams of the account they authenticate into. A client that does not
// authenticate is the user the broker admits without credentials (the
// global account when no authentication is configured, else the
// no_auth_user, else nobody); SASL PLAIN checks a user and password
// against the configured users and applies their subject permissions.
// Each account's streams get one kafka.JetBackend, made on first use.

// kafkaDrainTimeout bounds the wait, at shutdown, for Kafka connections to
// answer the requests they had read.
const kafkaDrainTimeout = 5 * time.Second

// kafkaListener is the listener and the per-account backends.
type kafkaListener struct {
	srv *kafka.Server // nil until started

	mu       sync.Mutex
	backends map[*broker.Account]*kafka.JetBackend
}

// configureKafka prepares the listener in New (its options were validated
// with the rest); nothing without a Kafka port.
func (s *Server) configureKafka() {
	if s.Options().Kafka.Enabled() {
		s.kafka = &kafkaListener{backends: make(map[*broker.Account]*kafka.JetBackend)}
	}
}

// startKafka opens the listener (with the other protocols' listeners).
func (s *Server) startKafka() error {
	if s.kafka == nil {
		return nil
	}
	o := s.Options().Kafka
	ln, err := broker.Listen(o.Host, max(o.Port, 0))
	if err != nil {
		return fmt.Errorf("cannot listen for Kafka clients on %s: %w",
			net.JoinHostPort(o.Host, strconv.Itoa(max(o.Port, 0))), err)
	}
	srv, err := kafka.NewServer(kafka.Config{
		Listener:          ln,
		Advertise:         o.Advertise,
		Logger:            s.log,
		Anonymous:         s.kafkaAnonymous,
		Authenticate:      s.kafkaAuthenticate,
		AutoCreateTopics:  !o.NoAutoCreateTopics,
		DefaultPartitions: int32(o.DefaultPartitions),
		ClusterID:         s.broker.Name(),
	})
	if err == nil {
		err = srv.Start()
	}
	if err != nil {
		_ = ln.Close()
		return err
	}
	s.kafka.srv = srv
	return nil
}

// stopAcceptingKafka closes the listener and stops reading requests; the
// connections answer what they read once the streams acknowledge it.
func (s *Server) stopAcceptingKafka() {
	if s.kafka != nil && s.kafka.srv != nil {
		s.kafka.srv.StopAccepting()
	}
}

// closeKafka closes the Kafka connections, after JetStream has committed
// and acknowledged what it held so that their produce requests could be
// answered.
func (s *Server) closeKafka() {
	if s.kafka == nil || s.kafka.srv == nil {
		return
	}
	s.kafka.srv.StopAccepting()
	if !s.kafka.srv.Drain(kafkaDrainTimeout) {
		s.log.Warn("shutdown: some Kafka connections did not finish in time")
	}
	_ = s.kafka.srv.Close()
}

// KafkaAddr is the address of the Kafka listener, nil when off.
func (s *Server) KafkaAddr() *net.TCPAddr {
	if s.kafka == nil || s.kafka.srv == nil {
		return nil
	}
	if a, ok := s.kafka.srv.Addr().(*net.TCPAddr); ok {
		return a
	}
	return nil
}

// kafkaAnonymous is the Backend of a Kafka client that does not
// authenticate, nil when it must.
func (s *Server) kafkaAnonymous() kafka.Backend {
	u := s.broker.Authenticate("", "", "", nil)
	if u == nil {
		return nil
	}
	be, err := s.kafkaBackendFor(u)
	if err != nil {
		s.log.Warn("Kafka client without credentials has no streams", "error", err)
		return nil
	}
	return be
}

// kafkaAuthenticate checks a SASL PLAIN user and password (the password
// doubles as the token when the server uses token authentication).
func (s *Server) kafkaAuthenticate(user, password string) (kafka.Backend, error) {
	u := s.broker.Authenticate(user, password, password, nil)
	if u == nil {
		s.broker.CountViolation(broker.ViolationAuthFailure)
		return nil, errors.New("authentication failed")
	}
	return s.kafkaBackendFor(u)
}

// kafkaBackendFor is a user's view of its account's streams.
func (s *Server) kafkaBackendFor(u *broker.User) (kafka.Backend, error) {
	acc := u.Account()
	if !s.js.Enabled(acc) {
		return nil, fmt.Errorf("account %s has no JetStream", acc.Name())
	}
	kl := s.kafka
	kl.mu.Lock()
	be := kl.backends[acc]
	if be == nil {
		be = kafka.NewJetBackend(s.js.AccountStreams(acc))
		kl.backends[acc] = be
	}
	kl.mu.Unlock()
	if perms := u.Permissions(); perms != nil {
		return kafka.Restrict(be, kafkaPermissions{perms}), nil
	}
	return be, nil
}

// kafkaPermissions are a user's permissions as the Kafka listener asks.
type kafkaPermissions struct{ p *broker.Permissions }

func (k kafkaPermissions) CanPublish(subject string) bool   { return k.p.CanPublish(subject) }
func (k kafkaPermissions) CanSubscribe(subject string) bool { return k.p.CanSubscribe(subject, "") }

// kafkaStats are the listener's figures for monitoring.
func (s *Server) kafkaStats() (broker.ProtocolCounters, monitor.KafkaStats) {
	if s.kafka == nil || s.kafka.srv == nil {
		return broker.ProtocolCounters{}, monitor.KafkaStats{}
	}
	st := s.kafka.srv.Stats()
	return broker.ProtocolCounters{
			Connections:      int(st.Connections),
			TotalConnections: int64(st.TotalConnections),
			InMsgs:           int64(st.RecordsIn),
			InBytes:          int64(st.RecordBytesIn),
			OutMsgs:          int64(st.RecordsOut),
			OutBytes:         int64(st.RecordBytesOut),
		}, monitor.KafkaStats{
			Requests:      st.Requests,
			Unsupported:   st.Unsupported,
			Malformed:     st.Malformed,
			AuthFailures:  st.AuthFailures,
			ProduceErrors: st.ProduceErrors,
			Groups:        st.Groups,
		}
}
