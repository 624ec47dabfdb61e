// Package route owns the routes between the servers of a cluster: the
// reference server's route protocol (INFO, CONNECT, PING/PONG, RS+/RS-,
// RMSG/HMSG) on a listener of its own and on connections it solicits,
// the full mesh (gossip of the servers it learns of, reconnection with
// backoff, one connection per pair of servers), and interest propagation:
// local subscriptions are announced to every route and replayed when one
// (re)connects, remote interest is inserted into the broker so that a
// message crosses a route only when the other side wants it, and messages
// from a route reach local subscribers only.
//
// It uses the broker's public API: routes are broker Conns of KindRoute
// wrapped in broker.Remote, local interest comes from a
// broker.InterestObserver. The broker knows nothing of the wire format,
// which this package alone writes and parses.
package route
