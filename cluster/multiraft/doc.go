// Package multiraft hosts many raft groups on one node: the replication
// engine under replicated streams and the cluster's meta group.
//
// It owns:
//   - driving etcd raft RawNodes (go.etcd.io/raft/v3) from a small worker
//     pool with one ticker per node, PreVote and CheckQuorum on, and
//     quiescence of idle groups so that idle groups send nothing (failure
//     detection then rides on one heartbeat frame per peer);
//   - durability: one checksummed, append-only, group-committed log per
//     node (many groups' Readies share one fsync), per-group snapshot
//     files, log compaction, and recovery that cuts a torn tail but reports
//     a bad checksum or a lost suffix as a damaged replica instead of
//     continuing on it;
//   - the Transport interface that carries batched frames between nodes,
//     with a TCP implementation and an in-memory one;
//   - the state machine contract: committed entries applied in order,
//     Snapshot/Restore, proposals answered once committed and applied,
//     leader reads through ReadIndex, membership changes, leader transfer.
//
// It does not own: what the entries mean (streams, consumers, placement
// are the callers'), how nodes find each other (routes and node addresses
// are the caller's; a Transport is handed in), or which groups a node
// should carry (the meta group's state machine decides; a host only
// creates, joins and drops replicas when told). It imports neither the
// server nor the stream store.
package multiraft
