// Package jscluster owns replicated JetStream: the meta group (which
// streams exist, their configuration and placement, over every JetStream
// server of the cluster), one raft group per stream (its messages, purges
// and deletes, its durable consumers and their state), and what keeps each
// server's copies equal to what those groups committed: stream leaders
// that order and acknowledge publishes, catch-up of lagging replicas from
// their peers, and the rebuilding of damaged ones.
//
// It runs on cluster/multiraft (the raft host), carried by cluster/route
// (raft frames and its own requests travel as server-to-server messages on
// the routes), and stores each copy in the account's jetstore store. The
// API layer (jsapi) calls it through jsapi.Cluster; it answers the wire
// through jsapi's functions, never formatting the API itself.
//
// What an acknowledgement means: a publish is acknowledged once the entry
// holding it is committed — a majority of the stream's replicas have it
// written and fsynced in their raft log — and applied by the leader's
// copy, so that any read or delivery after the ack sees it. The copies'
// block files are written as entries are applied and fsynced before the
// raft log is compacted past them (and before a new block is started), so
// a crash loses nothing the raft log cannot replay.
//
// Deletion: a server deletes its copy of a stream only when a committed
// meta entry deleted the stream, or took the stream off that server (a
// lower replica count, a removed peer) and the server's removal from the
// stream's group is committed; a damaged copy is set aside (moved, not
// deleted) and rebuilt from the peers. Servers a stream is placed on later
// (a higher replica count, a replacement peer) join its running group as
// learners, as rebuilt replicas do.
package jscluster
