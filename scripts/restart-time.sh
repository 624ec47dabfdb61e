#!/usr/bin/env bash
# restart-time.sh - how long midge and nats-server take to serve a stream of
# N small messages again after a restart (clean stop with SIGTERM, and
# after SIGKILL). Both are filled the same way with `nats bench js pub async`.
#   scripts/restart-time.sh [MSGS]      (default 5000000; run from the repo root)
set -euo pipefail
msgs=${1:-5000000}
export PATH="$PATH:$(go env GOPATH)/bin"
go build -o bin/midge ./cmd/midge
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# serving URL: poll until the stream answers with every message.
serving() {
	local url=$1
	for _ in $(seq 6000); do
		if nats --server "$url" stream info RESTART --json 2>/dev/null | grep -q "\"messages\": $msgs"; then
			return 0
		fi
		sleep 0.01
	done
	echo "never served again" >&2; return 1
}

run() { # label binary
	local label=$1 bin=$2 store port url pid t0
	store=$(mktemp -d); port=$(free_port); url="nats://127.0.0.1:$port"
	"$bin" -a 127.0.0.1 -p "$port" -js -sd "$store" >/dev/null 2>&1 & pid=$!
	sleep 0.5
	nats --server "$url" bench js pub async bench.restart --stream RESTART --create --storage file \
		--msgs "$msgs" --size 16 --no-progress >/dev/null
	for how in TERM KILL; do
		kill -s "$how" "$pid"; wait "$pid" 2>/dev/null || true
		t0=$(now)
		"$bin" -a 127.0.0.1 -p "$port" -js -sd "$store" >/dev/null 2>&1 & pid=$!
		serving "$url"
		printf '%-12s after SIG%-4s serving %d messages again in %.2f s\n' "$label" "$how" "$msgs" "$(echo "$(now) - $t0" | bc)"
	done
	kill "$pid"; wait "$pid" 2>/dev/null || true
	rm -rf "$store"
}
run midge bin/midge
run nats-server "$(command -v nats-server)"
