package jsapi

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nuid"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// JetStream advisories on $JS.EVENT.ADVISORY.>, in the reference server's
// subjects and JSON shapes: streams and consumers created, updated and
// deleted, an audit of every API request with its response, and what
// happens to consumers' messages (negatively acknowledged, terminated,
// given up after max_deliver). Nothing is encoded or sent while nobody
// listens on the subject.

const (
	advisoryPrefix       = "$JS.EVENT.ADVISORY."
	advisoryAPI          = advisoryPrefix + "API"
	advisoryTypePrefix   = "io.nats.jetstream.advisory.v1."
	actionCreate         = "create"
	actionDelete         = "delete"
	actionModify         = "modify"
	advisoryStreamAction = advisoryTypePrefix + "stream_action"
	advisoryConsumerAct  = advisoryTypePrefix + "consumer_action"
)

// typedEvent starts every advisory.
type typedEvent struct {
	Type string    `json:"type"`
	ID   string    `json:"id"`
	Time time.Time `json:"timestamp"`
}

func newTypedEvent(typ string) typedEvent {
	return typedEvent{Type: typ, ID: nuid.Next(), Time: time.Now().UTC()}
}

type streamActionAdvisory struct {
	typedEvent
	Stream string `json:"stream"`
	Action string `json:"action"`
}

type consumerActionAdvisory struct {
	typedEvent
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	Action   string `json:"action"`
}

type apiAuditAdvisory struct {
	typedEvent
	Server   string             `json:"server"`
	Client   *broker.ClientInfo `json:"client"`
	Subject  string             `json:"subject"`
	Request  string             `json:"request,omitempty"`
	Response string             `json:"response"`
}

// deliveryAdvisory is the nak, terminated and max deliveries advisories
// (the last without a consumer sequence).
type deliveryAdvisory struct {
	typedEvent
	Stream      string `json:"stream"`
	Consumer    string `json:"consumer"`
	ConsumerSeq uint64 `json:"consumer_seq,omitempty"`
	StreamSeq   uint64 `json:"stream_seq"`
	Deliveries  int    `json:"deliveries"`
	Reason      string `json:"reason,omitempty"`
}

// advise publishes an advisory if anyone listens on subject.
func (ja *jsAccount) advise(subject string, adv any) {
	if !ja.acc.HasInterest(subject) {
		return
	}
	body, err := json.Marshal(adv)
	if err != nil {
		ja.js.log.Error("encoding a JetStream advisory", "subject", subject, "error", err)
		return
	}
	ja.advPub.Publish([]byte(subject), nil, nil, body)
}

func (ja *jsAccount) adviseStream(stream, action string) {
	subject := advisoryPrefix + "STREAM."
	switch action {
	case actionCreate:
		subject += "CREATED."
	case actionDelete:
		subject += "DELETED."
	default:
		subject += "UPDATED."
	}
	ja.advise(subject+stream, &streamActionAdvisory{newTypedEvent(advisoryStreamAction), stream, action})
}

func (ja *jsAccount) adviseConsumer(stream, consumer, action string) {
	subject := advisoryPrefix + "CONSUMER.CREATED."
	if action == actionDelete {
		subject = advisoryPrefix + "CONSUMER.DELETED."
	}
	ja.advise(subject+stream+"."+consumer,
		&consumerActionAdvisory{newTypedEvent(advisoryConsumerAct), stream, consumer, action})
}

// wantsAudit reports whether an API request's origin must be kept for its
// audit advisory.
func (ja *jsAccount) wantsAudit() bool { return ja.acc.HasInterest(advisoryAPI) }

// audit publishes the audit advisory of an answered API request.
func (ja *jsAccount) audit(req apiRequest, response []byte) {
	if req.client == nil {
		return // nobody listened when the request came, or it came from no client
	}
	ja.advise(advisoryAPI, &apiAuditAdvisory{
		typedEvent: newTypedEvent(advisoryTypePrefix + "api_audit"),
		Server:     ja.js.broker.Name(),
		Client:     req.client,
		Subject:    req.subject,
		Request:    string(req.body),
		Response:   string(response),
	})
}

// consumerEvent publishes the advisory of a consumer's event; it runs on
// the consumer's goroutine (jetstore.EventSender).
func (s *consumerSender) ConsumerEvent(e jetstore.ConsumerEvent) {
	adv := &deliveryAdvisory{Stream: s.stream, Consumer: s.consumer, ConsumerSeq: e.ConsumerSeq,
		StreamSeq: e.StreamSeq, Deliveries: e.Deliveries}
	var subject string
	switch e.Kind {
	case jetstore.EventNak:
		subject, adv.typedEvent = "CONSUMER.MSG_NAKED.", newTypedEvent(advisoryTypePrefix+"nak")
	case jetstore.EventTerm:
		subject, adv.typedEvent = "CONSUMER.MSG_TERMINATED.", newTypedEvent(advisoryTypePrefix+"terminated")
		adv.Reason = e.Reason
	case jetstore.EventMaxDeliveries:
		subject, adv.typedEvent = "CONSUMER.MAX_DELIVERIES.", newTypedEvent(advisoryTypePrefix+"max_deliver")
		adv.ConsumerSeq = 0
	default:
		return
	}
	s.ja.advise(advisoryPrefix+subject+s.stream+"."+s.consumer, adv)
}
