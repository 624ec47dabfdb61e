// Package monitor is midge's monitoring: the HTTP endpoints of the
// reference server (/varz, /connz, /subsz, /jsz, /healthz, /accountz) with
// its field names, Prometheus metrics at /metrics, and a dashboard page at
// /. It reads the broker's public counters and a small Source interface
// that the server implements; nothing on the message path is maintained
// for it beyond the per-connection atomics the broker keeps anyway.
package monitor
