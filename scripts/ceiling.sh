#!/usr/bin/env bash
# ceiling.sh - how far each server is from what the benchmark clients
# allow on this machine: ../shared/tools/peerbench.sh runs the same
# `nats bench` scenarios against midge and against scripts/bareserver (a
# server that relays to exact subscribers and acknowledges JetStream
# publishes without storing them), then the reference server against it.
# A/B is each server's share of the ceiling, and the reference's share
# inverted is the most any server could reach over the reference.
#   scripts/ceiling.sh [RUNS] [SCENARIOS]
#   (defaults 5 and large,js-pub16,js-pub1k,pubsub,fanout; run from the repo root)
set -euo pipefail
runs=${1:-5}
scenarios=${2:-large,js-pub16,js-pub1k,pubsub,fanout}
export PATH="$PATH:$(go env GOPATH)/bin"
command -v nats >/dev/null || { echo "needs the nats CLI" >&2; exit 1; }
command -v nats-server >/dev/null || { echo "needs nats-server" >&2; exit 1; }
go build -o bin/midge ./cmd/midge
go build -o bin/bareserver ./scripts/bareserver
for server in 'bin/midge -a 127.0.0.1 -p {port} -js -sd {store}|midge' \
	'nats-server -a 127.0.0.1 -p {port} -js -sd {store}|nats-server'; do
	echo "== ${server#*|} against the ceiling"
	../shared/tools/peerbench.sh --server-cmd "${server%|*}" --label-a "${server#*|}" \
		--vs 'bin/bareserver -a 127.0.0.1 -p {port}' --label-b ceiling \
		--runs "$runs" --scenarios "$scenarios" | sed -n '/^scenario/,$p'
done
