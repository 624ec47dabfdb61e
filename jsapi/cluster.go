package jsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// JetStream in a cluster. With a Cluster set (cluster/jscluster), every
// stream is replicated — R1 included — and the API layer keeps only the
// wire: requests are handled on the server that leads what they are
// about, the meta group's leader for creating, updating, deleting and
// listing streams, the stream's leader for everything else (info, purge,
// messages, consumers, step-down). The server a client asked forwards the
// request there over the routes, and the handling server answers the
// client's reply subject directly. A stream's subjects, acknowledgement
// and pull subjects are subscribed on its leader only, so publishes and
// acks cross the routes to it like any message.
//
// The account stores hold each server's local copy of the streams it is a
// replica of; the replication layer owns them (jsapi never writes to a
// stream or consumer of a cluster directly).

// Cluster is the replication layer as the API uses it.
type Cluster interface {
	// IsMetaLeader reports whether this server leads the meta group.
	IsMetaLeader() bool
	// Forward sends a request to where it must be handled: the meta
	// leader when stream is "", else the stream's leader. It returns
	// false when it knows nowhere to send it.
	Forward(acc *broker.Account, stream string, req ForwardedRequest) bool
	// Stream returns the stream when this server leads it (local) and
	// whether the stream exists at all (known).
	Stream(acc *broker.Account, name string) (view *StreamView, known bool)
	// MetaReadBarrier returns nil once this server, still the meta
	// group's leader as a quorum confirms, has applied every meta entry
	// committed before the call: a stream it does not know then does not
	// exist. Any other server's view may be behind (it just restarted, or
	// is cut off) and must not be taken as an answer that a stream does not
	// exist.
	MetaReadBarrier() error
	// Streams lists an account's streams (meta leader).
	Streams(acc *broker.Account) []*StreamView

	// On the meta leader. The stream's leader answers reply once the
	// stream is ready (it then has the stream's subscriptions); exists
	// reports an identical stream that already existed (no answer sent).
	CreateStream(acc *broker.Account, cfg jetstore.StreamConfig, reply string) (exists bool, err error)
	UpdateStream(acc *broker.Account, cfg jetstore.StreamConfig, reply string) (unchanged bool, err error)
	DeleteStream(acc *broker.Account, name string) error
	// RemovePeer takes a server out of a stream's placement and places
	// the stream on another one instead.
	RemovePeer(acc *broker.Account, stream, peer string) error

	// On the stream's leader.
	Purge(acc *broker.Account, stream string, req jetstore.PurgeRequest) (uint64, error)
	DeleteMsg(acc *broker.Account, stream string, seq uint64) error
	AddConsumer(acc *broker.Account, stream string, cfg jetstore.ConsumerConfig, action string) (*jetstore.Consumer, error)
	DeleteConsumer(acc *broker.Account, stream, name string) error
	// ConsumerConfig is the configuration to show for a consumer (the
	// local copy of a replicated one runs with memory storage).
	ConsumerConfig(acc *broker.Account, stream, name string) (jetstore.ConsumerConfig, bool)
	// StepDown moves the stream's leadership to preferred (a server
	// name) or, when it is empty, to any other current replica.
	StepDown(acc *broker.Account, stream, preferred string) error
	// ReadBarrier returns nil once this server, still the stream's leader
	// as a quorum of its group confirms, has applied to its copy every
	// entry committed before the call: a read of the copy made then is
	// linearizable. An error means this server must not answer the read.
	ReadBarrier(acc *broker.Account, stream string) error
}

// StreamView is a replicated stream as the API shows it.
type StreamView struct {
	Config  jetstore.StreamConfig
	Created time.Time
	Stream  *jetstore.Stream // this server's copy; nil when it has none
	Cluster *ClusterInfo
}

// ClusterInfo is the cluster block of a stream's info.
type ClusterInfo struct {
	Name     string      `json:"name,omitempty"`
	Leader   string      `json:"leader,omitempty"`
	Replicas []*PeerInfo `json:"replicas,omitempty"`
}

// PeerInfo is one replica other than the leader, as the leader sees it.
type PeerInfo struct {
	Name    string        `json:"name"`
	Current bool          `json:"current"`
	Offline bool          `json:"offline,omitempty"`
	Active  time.Duration `json:"active"`
	Lag     uint64        `json:"lag,omitempty"`
}

// ForwardedRequest is an API request sent to the server that handles it.
type ForwardedRequest struct {
	Subject string `json:"s"`
	Reply   []byte `json:"r"`
	Header  []byte `json:"h,omitempty"`
	Body    []byte `json:"b,omitempty"`
	Hops    int    `json:"n,omitempty"`
}

// maxForwardHops bounds how often a request is passed on (a replica that
// is not the leader passes it to the leader it knows).
const maxForwardHops = 3

// Errors of the replication layer that clients see.
var (
	// ErrClusterUnavailable: no leader (of the meta group or the stream)
	// is known or reachable right now.
	ErrClusterUnavailable = errors.New("JetStream system temporarily unavailable")
	// ErrNoSuitablePeers: not enough servers match the placement.
	ErrNoSuitablePeers = errors.New("insufficient resources")
	// ErrLeaderChanged answers a publish whose proposal was lost to a
	// leader change; it was not stored and may be sent again.
	ErrLeaderChanged = errors.New("stream leader changed, publish again")
	// ErrPeerNotMember: a peer removal names a server the stream is not
	// placed on.
	ErrPeerNotMember = errors.New("peer not a member")
	// ErrOnlyPeer: a peer removal names a stream's only replica.
	ErrOnlyPeer = errors.New("can not remove the only peer of a stream")
)

var (
	jsErrClusterUnavailable = &apiError{503, 10008, "JetStream system temporarily unavailable"}
	jsErrNoSuitablePeers    = &apiError{500, 10023, "insufficient resources"}
	jsErrPeerNotMember      = &apiError{400, 10040, "peer not a member"}
	jsErrOnlyPeer           = &apiError{400, 10003, "bad request: can not remove the only peer of a stream"}
)

func init() {
	storeErrors[ErrClusterUnavailable] = jsErrClusterUnavailable
	storeErrors[ErrLeaderChanged] = jsErrClusterUnavailable
	storeErrors[ErrNoSuitablePeers] = jsErrNoSuitablePeers
	storeErrors[ErrPeerNotMember] = jsErrPeerNotMember
	storeErrors[ErrOnlyPeer] = jsErrOnlyPeer
}

// SetCluster puts the JetStream layer in cluster mode; call it before
// EnableAll.
func (j *JetStream) SetCluster(c Cluster) { j.cluster = c }

// Store is an account's store (the replication layer keeps its replicas
// there); nil without JetStream.
func (j *JetStream) Store(acc *broker.Account) *jetstore.Store {
	if ja := j.of(acc); ja != nil {
		return ja.store
	}
	return nil
}

// HandleForwarded handles a request another server forwarded here.
func (j *JetStream) HandleForwarded(acc *broker.Account, req ForwardedRequest) {
	ja := j.of(acc)
	if ja == nil || req.Hops > maxForwardHops {
		return
	}
	ja.api.enqueueRequest(apiRequest{subject: req.Subject, reply: req.Reply, hdr: req.Header, body: req.Body, hops: req.Hops})
}

// EncodeForwarded and DecodeForwarded are the wire form of a forwarded
// request.
func EncodeForwarded(account string, req ForwardedRequest) []byte {
	b, _ := json.Marshal(struct {
		Account string `json:"a"`
		ForwardedRequest
	}{account, req})
	return b
}

// DecodeForwarded reads what EncodeForwarded wrote.
func DecodeForwarded(b []byte) (string, ForwardedRequest, error) {
	var v struct {
		Account string `json:"a"`
		ForwardedRequest
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", ForwardedRequest{}, fmt.Errorf("forwarded request: %w", err)
	}
	if v.Subject == "" || len(v.Reply) == 0 {
		return "", ForwardedRequest{}, errors.New("forwarded request without subject or reply")
	}
	return v.Account, v.ForwardedRequest, nil
}

// AttachReplicated subscribes a replicated stream this server now leads:
// its subjects (publishes go to publish), acks, flow control and direct
// get.
func (j *JetStream) AttachReplicated(acc *broker.Account, st *jetstore.Stream, publish func(*jetstore.InMsg) error) error {
	ja := j.of(acc)
	if ja == nil {
		return fmt.Errorf("account %s has no JetStream", acc.Name())
	}
	ja.detach(st.Name())
	return ja.attachWith(st, publish)
}

// DetachReplicated unsubscribes a replicated stream this server no longer
// leads.
func (j *JetStream) DetachReplicated(acc *broker.Account, name string) {
	if ja := j.of(acc); ja != nil {
		ja.detach(name)
	}
}

// ResubscribeReplicated follows a configuration change of a replicated
// stream this server leads.
func (j *JetStream) ResubscribeReplicated(acc *broker.Account, name string) error {
	if ja := j.of(acc); ja != nil {
		return ja.resubscribe(name)
	}
	return nil
}

// SendPubAcks answers the publishers of a replicated stream's messages.
func (j *JetStream) SendPubAcks(acc *broker.Account, st *jetstore.Stream, msgs []*jetstore.InMsg, results []jetstore.PublishResult) {
	if ja := j.of(acc); ja != nil {
		ja.sendPubAcks(st, msgs, results)
	}
}

// RespondStreamInfo answers a create or update request of a replicated
// stream, from its leader.
func (j *JetStream) RespondStreamInfo(acc *broker.Account, reply string, v *StreamView, created, update bool) {
	ja := j.of(acc)
	if ja == nil {
		return
	}
	suffix := "stream_create_response"
	if update {
		suffix = "stream_update_response"
	}
	resp := &streamInfoResponse{apiResponse: newResponse(suffix), streamInfo: ja.viewInfo(v, "", false), DidCreate: created}
	body, err := json.Marshal(resp)
	if err != nil {
		return
	}
	ja.errPub.Publish([]byte(reply), nil, nil, body)
}

// viewInfo is a replicated stream's info.
func (ja *jsAccount) viewInfo(v *StreamView, subjectsFilter string, deletedDetails bool) *streamInfo {
	info := &streamInfo{Config: v.Config, Created: v.Created, Cluster: v.Cluster, TS: nowUTC()}
	if v.Stream != nil {
		info.State = v.Stream.State(subjectsFilter, deletedDetails)
		info.State.Consumers = v.Stream.NumConsumers()
	}
	return info
}
