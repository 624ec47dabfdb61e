package server_test

import (
	"io"
	"strings"
	"testing"

	"github.com/midgemq/midge/config"
	"github.com/midgemq/midge/internal/testutil"
)

// prof_port serves Go's pprof index, as the reference server's does.
func TestProfPortServesProfiles(t *testing.T) {
	cfg, err := config.ParseConfig("prof_port: -1\n")
	if err != nil || cfg.ProfPort != -1 {
		t.Fatalf("prof_port: %v %+v", err, cfg.ProfPort)
	}
	s := testutil.StartServer(t, func(o *config.Options) { o.ProfPort = config.MonitorRandomPort })
	addr := s.ProfileAddr()
	if addr == nil {
		t.Fatal("no profiling listener")
	}
	resp, err := testutil.HTTPClient.Get("http://" + addr.String() + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "goroutine") {
		t.Fatalf("pprof index: %d %.200s", resp.StatusCode, body)
	}
}
