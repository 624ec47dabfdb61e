package broker

// CloseReason says why a connection ended; it appears in logs (and in
// monitoring once that exists).
type CloseReason uint8

const (
	CloseClientClosed CloseReason = iota
	CloseReadError
	CloseWriteError
	CloseProtocolError
	CloseSlowConsumer
	CloseWriteDeadline
	CloseStale
	CloseServerShutdown
	CloseAuthTimeout
	CloseTLSHandshake
	CloseAuthRevoked
	CloseSessionTakenOver
)

var closeReasonText = [...]string{
	CloseClientClosed:     "Client Closed",
	CloseReadError:        "Read Error",
	CloseWriteError:       "Write Error",
	CloseProtocolError:    "Protocol Violation",
	CloseSlowConsumer:     "Slow Consumer (Pending Bytes)",
	CloseWriteDeadline:    "Slow Consumer (Write Deadline)",
	CloseStale:            "Stale Connection",
	CloseServerShutdown:   "Server Shutdown",
	CloseAuthTimeout:      "Authentication Timeout",
	CloseTLSHandshake:     "TLS Handshake Error",
	CloseAuthRevoked:      "Authentication Failure",
	CloseSessionTakenOver: "Session Taken Over", // MQTT: same client identifier connected again
}

func (r CloseReason) String() string { return closeReasonText[r] }
