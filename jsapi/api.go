package jsapi

import (
	"encoding/json"
	"strings"
	"sync/atomic"
	"time"

	"github.com/midgemq/midge/broker"
	"github.com/midgemq/midge/jetstore"
)

// The JetStream API: requests arrive on $JS.API.* subjects, are copied off
// the publisher's read loop into a bounded queue and answered by worker
// goroutines with exactly one reply each.

const (
	jsAPIPrefix       = "$JS.API."
	jsDirectGetPrefix = "$JS.API.DIRECT.GET."
	jsTypePrefix      = "io.nats.jetstream.api.v1."
	// jsAPILevel is the JetStream API level midge implements: 1 brings
	// per-message TTL, pause and priority groups, 2 counters and atomic
	// batches. It is the highest level all of whose features midge has,
	// which is lower than the advertised server version's.
	jsAPILevel = 2

	jsAPIQueueLen = 4096
	jsAPIWorkers  = 2
)

// jsAPISubjects are the API subjects answered by the workers. Pull requests
// and direct gets have subscriptions of their own, so that a missing
// consumer or a stream without direct get yields no-responders.
var jsAPISubjects = []string{
	"$JS.API.INFO",
	"$JS.API.STREAM.>",
	"$JS.API.CONSUMER.CREATE.>",
	"$JS.API.CONSUMER.DURABLE.CREATE.>",
	"$JS.API.CONSUMER.INFO.>",
	"$JS.API.CONSUMER.DELETE.>",
	"$JS.API.CONSUMER.NAMES.>",
	"$JS.API.CONSUMER.LIST.>",
	"$JS.API.CONSUMER.PAUSE.>",
	"$JS.API.CONSUMER.UNPIN.>",
}

type jsAPI struct {
	ja    *jsAccount
	subs  []*broker.Subscription
	queue chan apiRequest
	done  chan struct{}
	// readWaits bounds the direct gets waiting for a read barrier in a
	// cluster (cluster_api.go): one slot each.
	readWaits chan struct{}

	total, errors atomic.Int64
}

// maxReadWaits is how many direct gets may wait for a read barrier at
// once; more are dropped unanswered, as a server that cannot confirm its
// leadership drops them, and the clients ask again.
const maxReadWaits = 1024

// apiRequest is a copied API request.
type apiRequest struct {
	subject string
	reply   []byte
	hdr     []byte
	body    []byte
	// client is the requester, kept for the audit advisory while someone
	// listens for those.
	client *broker.ClientInfo
	hops   int // times it was forwarded between servers of a cluster
}

func newJSAPI(ja *jsAccount) (*jsAPI, error) {
	api := &jsAPI{ja: ja, queue: make(chan apiRequest, jsAPIQueueLen), done: make(chan struct{}),
		readWaits: make(chan struct{}, maxReadWaits)}
	for _, apiSubject := range jsAPISubjects {
		for _, subject := range ja.js.apiSubjects(apiSubject) {
			// Each server answers its own API: announced to a cluster, a
			// request would be answered (and acted on) by every server.
			sub, err := ja.acc.SubscribeLocalFrom(subject, api.enqueueFrom)
			if err != nil {
				api.close()
				return nil, err
			}
			api.subs = append(api.subs, sub)
		}
	}
	for i := 0; i < jsAPIWorkers; i++ {
		go api.work(ja.acc.NewPublisher())
	}
	return api, nil
}

func (api *jsAPI) close() {
	for _, sub := range api.subs {
		sub.Unsubscribe()
	}
	select {
	case <-api.done:
	default:
		close(api.done)
	}
}

// enqueue runs in the requester's read loop.
func (api *jsAPI) enqueue(subject, reply, hdr, data []byte) {
	api.enqueueFrom(broker.Origin{}, subject, reply, hdr, data)
}

// enqueueFrom is enqueue knowing the requester, whom an audit advisory
// names.
func (api *jsAPI) enqueueFrom(from broker.Origin, subject, reply, hdr, data []byte) {
	if len(reply) == 0 {
		return // nothing to answer to; the reference server ignores these
	}
	req := apiRequest{
		subject: api.ja.js.apiSubject(string(subject)),
		reply:   append([]byte(nil), reply...),
		hdr:     append([]byte(nil), hdr...),
		body:    append([]byte(nil), data...),
	}
	if api.ja.wantsAudit() {
		req.client = from.Info()
	}
	api.enqueueRequest(req)
}

// enqueueRequest queues a copied request for the workers.
func (api *jsAPI) enqueueRequest(req apiRequest) {
	select {
	case api.queue <- req:
	default:
		api.ja.js.log.Warn("JetStream API queue full, dropping request", "subject", req.subject)
	}
}

func (api *jsAPI) work(pub *broker.Publisher) {
	for {
		select {
		case <-api.done:
			return
		case req := <-api.queue:
			api.total.Add(1)
			resp := api.dispatch(req, pub)
			if resp == nil {
				continue
			}
			body, err := json.Marshal(resp)
			if err != nil {
				api.ja.js.log.Error("encoding JetStream API response", "error", err)
				continue
			}
			if hasAPIError(resp) {
				api.errors.Add(1)
			}
			pub.Publish(req.reply, nil, nil, body)
			api.ja.audit(req, body)
		}
	}
}

// apiResponse is embedded in every response: its type and, on failure, the
// error.
type apiResponse struct {
	Type  string    `json:"type"`
	Error *apiError `json:"error,omitempty"`
}

type apiErrorer interface{ apiErr() *apiError }

func (r *apiResponse) apiErr() *apiError { return r.Error }

func hasAPIError(resp any) bool {
	e, ok := resp.(apiErrorer)
	return ok && e.apiErr() != nil
}

func newResponse(suffix string) apiResponse { return apiResponse{Type: jsTypePrefix + suffix} }

// errInvalidJSON is the reference server's answer to an unparsable body.
func errInvalidJSON(err error) *apiError { return jsErrInvalidJSON.with(err) }

// decodeBody unmarshals an optional JSON body; empty means defaults.
func decodeBody(body []byte, v any) *apiError {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errInvalidJSON(err)
	}
	return nil
}

// dispatch routes a request by its subject tokens after $JS.API.
func (api *jsAPI) dispatch(req apiRequest, pub *broker.Publisher) any {
	tokens := strings.Split(strings.TrimPrefix(req.subject, jsAPIPrefix), ".")
	if api.ja.js.cluster != nil {
		return api.clusterDispatch(tokens, req, pub)
	}
	switch {
	case len(tokens) == 1 && tokens[0] == "INFO":
		return api.accountInfo()
	case tokens[0] == "STREAM":
		return api.streamRequest(tokens[1:], req)
	case tokens[0] == "CONSUMER":
		return api.consumerRequest(tokens[1:], req)
	case tokens[0] == "DIRECT" && len(tokens) >= 3 && tokens[1] == "GET":
		api.directGet(tokens[2], strings.Join(tokens[3:], "."), req, pub)
		return nil // answered with a raw message, not JSON
	}
	return nil
}

// accountInfoResponse is $JS.API.INFO's answer.
type accountInfoResponse struct {
	apiResponse
	Memory          uint64        `json:"memory"`
	Storage         uint64        `json:"storage"`
	ReservedMemory  uint64        `json:"reserved_memory"`
	ReservedStorage uint64        `json:"reserved_storage"`
	Streams         int           `json:"streams"`
	Consumers       int           `json:"consumers"`
	Limits          accountLimits `json:"limits"`
	Domain          string        `json:"domain,omitempty"`
	API             apiStats      `json:"api"`
}

type accountLimits struct {
	MaxMemory             int64 `json:"max_memory"`
	MaxStorage            int64 `json:"max_storage"`
	MaxStreams            int   `json:"max_streams"`
	MaxConsumers          int   `json:"max_consumers"`
	MaxAckPending         int   `json:"max_ack_pending"`
	MemoryMaxStreamBytes  int64 `json:"memory_max_stream_bytes"`
	StorageMaxStreamBytes int64 `json:"storage_max_stream_bytes"`
	MaxBytesRequired      bool  `json:"max_bytes_required"`
}

type apiStats struct {
	Level  int   `json:"level"`
	Total  int64 `json:"total"`
	Errors int64 `json:"errors"`
}

func (api *jsAPI) accountInfo() any {
	mem, file := api.ja.store.Usage()
	resMem, resFile := api.ja.store.Reserved()
	return &accountInfoResponse{
		apiResponse:     newResponse("account_info_response"),
		Memory:          mem,
		Storage:         file,
		ReservedMemory:  resMem,
		ReservedStorage: resFile,
		Streams:         len(api.ja.store.Streams()),
		Consumers:       api.ja.consumerCount(),
		Limits:          limitsJSON(api.ja.store.Limits()),
		Domain:          api.ja.js.opts.Domain,
		API:             apiStats{Level: jsAPILevel, Total: api.total.Load(), Errors: api.errors.Load()},
	}
}

// limitsJSON shows an account's limits as the API does: -1 for none.
func limitsJSON(l jetstore.Limits) accountLimits {
	orNone := func(n int64) int64 {
		if n <= 0 {
			return -1
		}
		return n
	}
	return accountLimits{
		MaxMemory:             orNone(l.MaxMemory),
		MaxStorage:            orNone(l.MaxFile),
		MaxStreams:            int(orNone(int64(l.MaxStreams))),
		MaxConsumers:          int(orNone(int64(l.MaxConsumers))),
		MaxAckPending:         int(orNone(int64(l.MaxAckPending))),
		MemoryMaxStreamBytes:  orNone(l.MemoryMaxStreamBytes),
		StorageMaxStreamBytes: orNone(l.FileMaxStreamBytes),
		MaxBytesRequired:      l.MaxBytesRequired,
	}
}

// consumerCount counts the consumers of every stream.
func (ja *jsAccount) consumerCount() int {
	n := 0
	for _, st := range ja.store.Streams() {
		n += st.NumConsumers()
	}
	return n
}

// nowUTC is the "ts" of responses.
func nowUTC() time.Time { return time.Now().UTC() }
