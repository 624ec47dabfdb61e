#!/usr/bin/env bash
# idle-memory.sh - resident memory of N idle client connections, midge vs
# nats-server, measured the same way (/proc/PID/status VmRSS before and after
# scripts/idleconns opens the connections).
#   scripts/idle-memory.sh [CONNS]      (default 10000; run from the repo root)
set -euo pipefail
conns=${1:-10000}
export PATH="$PATH:$(go env GOPATH)/bin"
go build -o bin/midge ./cmd/midge
go build -o bin/idleconns ./scripts/idleconns
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
measure() { # label command...
	local label=$1; shift
	local port; port=$(free_port)
	"$@" -a 127.0.0.1 -p "$port" >/dev/null 2>&1 &
	local pid=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
	printf '%-12s ' "$label"
	bin/idleconns --addr "127.0.0.1:$port" --pid "$pid" --conns "$conns"
	kill "$pid"; wait "$pid" 2>/dev/null || true
}
measure midge bin/midge
measure nats-server nats-server
