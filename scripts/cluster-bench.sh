#!/usr/bin/env bash
# cluster-bench.sh - JetStream publish throughput and latency of replicated
# streams: a 3-node midge cluster and a 3-node nats-server cluster (R3),
# and one midge and one nats-server alone (R1), all on loopback with file
# storage, driven by the same `nats bench js pub` runs (16-byte messages,
# asynchronous and synchronous). The targets are run in turn, ROUNDS times
# (interleaved, so that a noisy machine hurts them alike); the last table
# is each figure's median.
#   scripts/cluster-bench.sh [ROUNDS]     (default 3; run from the repo root)
# Environment: ASYNC_MSGS (default 50000), SYNC_MSGS (default 1000),
# NATS_SERVER (default nats-server from PATH or $(go env GOPATH)/bin).
set -euo pipefail
rounds=${1:-3}
async_msgs=${ASYNC_MSGS:-50000}
sync_msgs=${SYNC_MSGS:-1000}
export PATH="$PATH:$(go env GOPATH)/bin"
nats_server=${NATS_SERVER:-nats-server}
command -v nats >/dev/null || { echo "needs the nats CLI" >&2; exit 1; }
command -v "$nats_server" >/dev/null || { echo "needs nats-server" >&2; exit 1; }
go build -o bin/midge ./cmd/midge

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The starters run in this shell (not in $(...), whose background
# processes cleanup would not know) and leave the client URLs in $started.

# cluster3 LABEL BINARY: starts three servers of one cluster (midge and
# nats-server take the same flags).
cluster3() {
	local label=$1 bin=$2 i j cp=() p=() routes
	for i in 0 1 2; do cp+=("$(free_port)"); p+=("$(free_port)"); done
	for i in 0 1 2; do
		routes=""
		for j in 0 1 2; do
			[ "$j" = "$i" ] && continue
			routes+="${routes:+,}nats-route://127.0.0.1:${cp[$j]}"
		done
		"$bin" -a 127.0.0.1 -p "${p[$i]}" -n "$label$i" -js -sd "$work/$label$i" \
			--cluster_name "$label" --cluster "nats://127.0.0.1:${cp[$i]}" --routes "$routes" \
			>"$work/$label$i.log" 2>&1 &
		pids+=($!)
	done
	started="nats://127.0.0.1:${p[0]},nats://127.0.0.1:${p[1]},nats://127.0.0.1:${p[2]}"
}

single() {
	local label=$1 bin=$2 port
	port=$(free_port)
	"$bin" -a 127.0.0.1 -p "$port" -n "$label" -js -sd "$work/$label" >"$work/$label.log" 2>&1 &
	pids+=($!)
	started="nats://127.0.0.1:$port"
}

# ready URL REPLICAS: polls until a stream of that many replicas can be
# created (the cluster's meta leader is elected), then deletes it.
ready() {
	local url=$1 r=$2
	for _ in $(seq 600); do
		if nats -s "$url" stream add READY --subjects ready --replicas "$r" --defaults >/dev/null 2>&1; then
			nats -s "$url" stream rm READY -f >/dev/null 2>&1 || true
			return 0
		fi
		sleep 0.1
	done
	echo "$url never accepted an R$r stream" >&2
	return 1
}

declare -A url reps
single mR1 bin/midge; url[midge-R1]=$started; reps[midge-R1]=1
cluster3 mc bin/midge; url[midge-R3]=$started; reps[midge-R3]=3
single nR1 "$nats_server"; url[nats-server-R1]=$started; reps[nats-server-R1]=1
cluster3 nc "$nats_server"; url[nats-server-R3]=$started; reps[nats-server-R3]=3
targets=(midge-R1 midge-R3 nats-server-R1 nats-server-R3)
for t in "${targets[@]}"; do ready "${url[$t]}" "${reps[$t]}"; done

# stats LINE -> "msgs/s p99_ms"
stats() {
	sed -n 's/.*stats: \([0-9,]*\) msgs\/sec.*P99: \([0-9,.]*\)us.*/\1 \2/p' | tr -d , |
		awk '{ printf "%d %.1f\n", $1, $2 / 1000 }'
}

declare -A res
printf '%-16s %5s %12s %9s %12s %9s\n' target round async-msg/s p99-ms sync-msg/s p99-ms
for round in $(seq "$rounds"); do
	for t in "${targets[@]}"; do
		u=${url[$t]}; s="B$round"
		out=$work/bench.out
		# The stream is made beforehand: `bench --create` asks for
		# allow_atomic, which midge refuses on replicated streams.
		nats -s "$u" stream add "$s" --subjects "bench.$s" --replicas "${reps[$t]}" --storage file \
			--defaults >"$out" 2>&1 || true
		nats -s "$u" bench js pub async "bench.$s" --stream "$s" --msgs "$async_msgs" --size 16 --no-progress >"$out" 2>&1 || true
		a=$(stats <"$out")
		nats -s "$u" bench js pub sync "bench.$s" --stream "$s" \
			--msgs "$sync_msgs" --size 16 --no-progress >>"$out" 2>&1 || true
		y=$(stats <"$out" | sed -n 2p)
		if [ -z "$a" ] || [ -z "$y" ]; then
			echo "$t round $round failed:" >&2; cat "$out" >&2; continue
		fi
		nats -s "$u" stream rm "$s" -f >/dev/null 2>&1 || true
		res[$t]+="$a $y"$'\n'
		printf '%-16s %5d %12s %9s %12s %9s\n' "$t" "$round" $a $y
	done
done

echo
echo "median of $rounds rounds (async: $async_msgs msgs, sync: $sync_msgs msgs, 16 B, file storage)"
printf '| %s | %s | %s | %s | %s |\n' target "async msg/s" "async p99 ms" "sync msg/s" "sync p99 ms"
printf '|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
	row="| $t |"
	for col in 1 2 3 4; do
		m=$(printf '%s' "${res[$t]:-}" | awk -v c=$col 'NF { print $c }' | sort -g |
			awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
		row+=" $m |"
	done
	echo "$row"
done
