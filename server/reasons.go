package server

// closeReason says why a connection ended; it appears in logs (and in
// monitoring once that exists).
type closeReason uint8

const (
	closeClientClosed closeReason = iota
	closeReadError
	closeWriteError
	closeProtocolError
	closeSlowConsumer
	closeWriteDeadline
	closeStale
	closeServerShutdown
	closeAuthTimeout
	closeTLSHandshake
	closeAuthRevoked
	closeSessionTakenOver
)

var closeReasonText = [...]string{
	closeClientClosed:     "Client Closed",
	closeReadError:        "Read Error",
	closeWriteError:       "Write Error",
	closeProtocolError:    "Protocol Violation",
	closeSlowConsumer:     "Slow Consumer (Pending Bytes)",
	closeWriteDeadline:    "Slow Consumer (Write Deadline)",
	closeStale:            "Stale Connection",
	closeServerShutdown:   "Server Shutdown",
	closeAuthTimeout:      "Authentication Timeout",
	closeTLSHandshake:     "TLS Handshake Error",
	closeAuthRevoked:      "Authentication Failure",
	closeSessionTakenOver: "Session Taken Over", // MQTT: same client identifier connected again
}

func (r closeReason) String() string { return closeReasonText[r] }
