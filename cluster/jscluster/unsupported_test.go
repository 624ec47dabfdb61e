package jscluster_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Features whose writes bypass the raft group are refused on clustered
// streams with a stream configuration error, and nothing is created.
func TestClusteredStreamRefusesUnreplicatedFeatures(t *testing.T) {
	c := startCluster(t, 3)
	_, js := c.client(c.nodes[0])
	createStream(t, js, jetstream.StreamConfig{Name: "SRC", Subjects: []string{"src.>"}, Replicas: 3})
	for _, tc := range []struct {
		feature string
		cfg     jetstream.StreamConfig
	}{
		{"mirror", jetstream.StreamConfig{Name: "M", Mirror: &jetstream.StreamSource{Name: "SRC"}}},
		{"sources", jetstream.StreamConfig{Name: "S", Sources: []*jetstream.StreamSource{{Name: "SRC"}}}},
		{"subject_transform", jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"},
			SubjectTransform: &jetstream.SubjectTransformConfig{Source: "t.>", Destination: "u.>"}}},
		{"republish", jetstream.StreamConfig{Name: "R", Subjects: []string{"r.>"},
			RePublish: &jetstream.RePublish{Source: "r.>", Destination: "rp.>"}}},
		{"allow_msg_counter", jetstream.StreamConfig{Name: "C", Subjects: []string{"c.>"}, AllowMsgCounter: true}},
		{"allow_atomic", jetstream.StreamConfig{Name: "A", Subjects: []string{"a.>"}, AllowAtomicPublish: true}},
	} {
		_, err := js.CreateStream(ctx(t, 5*time.Second), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.feature+" is not supported on clustered streams yet") {
			t.Fatalf("%s: err %v", tc.feature, err)
		}
		if _, err := js.Stream(ctx(t, 5*time.Second), tc.cfg.Name); err == nil {
			t.Fatalf("%s: stream %s exists after a refused create", tc.feature, tc.cfg.Name)
		}
	}
}
