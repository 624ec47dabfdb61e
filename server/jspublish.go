package server

// The publish side of the JetStream wire: the acknowledgement clients
// receive for a message a stream stored or refused.

// pubAck is a publish acknowledgement as clients receive it.
type pubAck struct {
	Stream    string    `json:"stream"`
	Seq       uint64    `json:"seq"`
	Duplicate bool      `json:"duplicate,omitempty"`
	Error     *apiError `json:"error,omitempty"`
}
