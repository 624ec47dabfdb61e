package monitor

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// HealthStatus is /healthz's answer.
type HealthStatus struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// healthProblem is a failed check and the HTTP status it answers with.
type healthProblem struct {
	code   int
	status string
	err    error
}

// handleHealthz answers 200 only while the server accepts clients and,
// with JetStream, every stream found on disk was recovered. With
// js-enabled-only=true (or js-server-only=true) the stream check is
// skipped: JetStream being up is enough.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	q := query{r: r}
	jsEnabledOnly := q.boolean("js-enabled-only") || q.boolean("js-enabled") || q.boolean("js-server-only")
	if q.err != nil {
		badRequest(w, q.err)
		return
	}
	if p := s.healthCheck(jsEnabledOnly); p != nil {
		writeJSON(w, p.code, HealthStatus{Status: p.status, Error: p.err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, HealthStatus{Status: "ok"})
}

func (s *Server) healthCheck(jsEnabledOnly bool) *healthProblem {
	if !s.src.Serving() {
		why := "server is not accepting client connections"
		if s.src.LameDuck() {
			why = "server is in lame duck mode"
		}
		return &healthProblem{http.StatusInternalServerError, "error", errors.New(why)}
	}
	if !s.opts().JetStream {
		return nil
	}
	accounts := s.jetStream()
	if len(accounts) == 0 {
		return &healthProblem{http.StatusServiceUnavailable, "unavailable", errors.New("JetStream not enabled")}
	}
	if jsEnabledOnly {
		return nil
	}
	for _, ja := range accounts {
		if err := ja.checkRecovered(ja.Dir); err != nil {
			return &healthProblem{http.StatusServiceUnavailable, "unavailable", err}
		}
	}
	return nil
}

// checkRecovered reports a stream directory under dir that the store did
// not load (the store leaves a stream it cannot open untouched on disk and
// carries on without it).
func (ja *JetStreamAccount) checkRecovered(dir string) error {
	streams := filepath.Join(dir, "streams")
	entries, err := os.ReadDir(streams)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("JetStream store of account '%s' cannot be read: %v", ja.Name, err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := ja.Store.Stream(e.Name()); err == nil {
			continue
		}
		// A stream being deleted leaves the store before its directory
		// goes; only one still on disk afterwards is a problem.
		if _, err := os.Stat(filepath.Join(streams, e.Name())); err == nil {
			return fmt.Errorf("JetStream stream '%s > %s' could not be recovered", ja.Name, e.Name())
		}
	}
	return nil
}
