package jsapi

import (
	"strings"
)

// A JetStream domain names this server's JetStream for clients that reach
// several (nats.go's jetstream.WithDomain): with domain D the API is also
// served on $JS.D.API.> (requests are handled as if they came on
// $JS.API.>), and account info and publish acks carry "domain": D, as the
// reference server does.

// apiSubjects returns subject (under $JS.API.) and, with a domain, the same
// subject under $JS.<domain>.API.
func (j *JetStream) apiSubjects(subject string) []string {
	if j.opts.Domain == "" || !strings.HasPrefix(subject, jsAPIPrefix) {
		return []string{subject}
	}
	return []string{subject, j.domainPrefix() + strings.TrimPrefix(subject, jsAPIPrefix)}
}

func (j *JetStream) domainPrefix() string { return "$JS." + j.opts.Domain + ".API." }

// apiSubject turns a request subject under the domain's prefix into its
// $JS.API. form.
func (j *JetStream) apiSubject(subject string) string {
	if j.opts.Domain != "" && strings.HasPrefix(subject, j.domainPrefix()) {
		return jsAPIPrefix + strings.TrimPrefix(subject, j.domainPrefix())
	}
	return subject
}
