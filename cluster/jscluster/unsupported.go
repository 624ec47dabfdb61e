package jscluster

import "github.com/midgemq/midge/jetstore"

// unsupportedInCluster names the first stream feature whose writes do not
// go through a stream's raft group yet, "" when there is none. Mirrors and
// sources copy with a goroutine per replica, and transforms, republish,
// counters and atomic batches are applied on the single-server publish
// path only: accepted here, each replica would store something different.
// They are refused until they are replicated.
func unsupportedInCluster(cfg *jetstore.StreamConfig) string {
	switch {
	case cfg.Mirror != nil:
		return "mirror"
	case len(cfg.Sources) > 0:
		return "sources"
	case cfg.SubjectTransform != nil:
		return "subject_transform"
	case cfg.RePublish != nil:
		return "republish"
	case cfg.AllowMsgCounter:
		return "allow_msg_counter"
	case cfg.AllowAtomicPublish:
		return "allow_atomic"
	}
	return ""
}

// checkClusterFeatures refuses a configuration using such a feature.
func checkClusterFeatures(cfg *jetstore.StreamConfig) error {
	if f := unsupportedInCluster(cfg); f != "" {
		return &jetstore.StreamConfigError{Reason: f + " is not supported on clustered streams yet"}
	}
	return nil
}
