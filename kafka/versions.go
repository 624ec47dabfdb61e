package kafka

import "github.com/twmb/franz-go/pkg/kmsg"

// apiRange is the versions of one request this listener implements. Every
// field of those versions is honoured or, where the listener has no such
// feature, answered as a broker without it would.
type apiRange struct{ min, max int16 }

// supported is what ApiVersions advertises. The lower bounds leave out
// versions that predate record batches (magic 2) or committed-offset
// semantics a modern client relies on; the upper bounds stop before topic
// IDs in fetch requests and the newer group protocols.
var supported = map[int16]apiRange{
	0:  {3, 9},  // Produce: record batch v2 from v3; v9 flexible
	1:  {4, 12}, // Fetch: record batch v2 from v4; no fetch sessions kept (session 0)
	2:  {1, 6},  // ListOffsets (v7 adds max-timestamp lookups, not implemented)
	3:  {0, 12}, // Metadata
	8:  {2, 8},  // OffsetCommit
	9:  {1, 8},  // OffsetFetch (v8: several groups)
	10: {0, 4},  // FindCoordinator (v4: several keys)
	11: {0, 9},  // JoinGroup
	12: {0, 4},  // Heartbeat
	13: {0, 5},  // LeaveGroup (v3: several members)
	14: {0, 5},  // SyncGroup
	15: {0, 5},  // DescribeGroups
	16: {0, 4},  // ListGroups (v4: state filter)
	17: {0, 1},  // SaslHandshake
	18: {0, 3},  // ApiVersions
	19: {0, 7},  // CreateTopics
	20: {0, 6},  // DeleteTopics
	22: {0, 4},  // InitProducerID
	32: {0, 4},  // DescribeConfigs
	36: {0, 2},  // SaslAuthenticate
	37: {0, 3},  // CreatePartitions
}

const (
	keyProduce          = 0
	keyFetch            = 1
	keyApiVersions      = 18
	keySaslHandshake    = 17
	keySaslAuthenticate = 36
)

// versionSupported reports whether a request version is implemented.
func versionSupported(key, version int16) bool {
	r, ok := supported[key]
	return ok && version >= r.min && version <= r.max
}

// apiVersionsResponse lists the supported ranges, sorted by key.
func apiVersionsResponse(version int16, code int16) *kmsg.ApiVersionsResponse {
	resp := kmsg.NewPtrApiVersionsResponse()
	resp.SetVersion(version)
	resp.ErrorCode = code
	for key := int16(0); key < 100; key++ {
		r, ok := supported[key]
		if !ok {
			continue
		}
		k := kmsg.NewApiVersionsResponseApiKey()
		k.ApiKey, k.MinVersion, k.MaxVersion = key, r.min, r.max
		resp.ApiKeys = append(resp.ApiKeys, k)
	}
	return resp
}

func (c *conn) handleApiVersions(req *kmsg.ApiVersionsRequest) kmsg.Response {
	if req.Version >= 3 {
		c.clientSoftware = req.ClientSoftwareName + "/" + req.ClientSoftwareVersion
	}
	return apiVersionsResponse(req.Version, errNone)
}
