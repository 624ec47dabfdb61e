#!/usr/bin/env bash
# memory-rss.sh - resident memory per stored message and after a mass
# unsubscribe, midge vs nats-server, measured the same way by
# scripts/rssprobe (/proc/PID/status VmRSS).
#   scripts/memory-rss.sh [MSGS] [SUBJECTS]   (defaults 1000000 100000; run from the repo root)
set -euo pipefail
msgs=${1:-1000000}
subjects=${2:-100000}
export PATH="$PATH:$(go env GOPATH)/bin"
go build -o bin/midge ./cmd/midge
go build -o bin/rssprobe ./scripts/rssprobe
for bin in bin/midge nats-server; do
	printf '%-12s ' "$(basename "$bin")"
	bin/rssprobe stored --bin "$bin" --n "$msgs" --subjects "$subjects"
done
for bin in bin/midge nats-server; do
	printf '%-12s ' "$(basename "$bin")"
	bin/rssprobe subs --bin "$bin" --n 1000000
done
