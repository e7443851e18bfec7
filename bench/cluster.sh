#!/usr/bin/env bash
# Cluster mode's cost (docs/cluster.md): the same events into one handoffd in cluster mode (three
# local nats-server nodes, R3 stream), into two handoffd nodes sharing the partitions (a fresh
# NATS cluster, half of the events sent to each node), and into a single handoffd; prints
# events/s for each.
#   bench/cluster.sh                 200,000 events of the benchmark file
#   EVENTS=50000 bench/cluster.sh
# Needs a build (build/handoffd, build/handoff) and nats-server; uses free ports and a temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
EVENTS=${EVENTS:-200000}
CACHE=${BENCH_CACHE:-/tmp/handoff-bench-cache}
SOURCE="$CACHE/events-1000000-100000.ndjson"
command -v nats-server >/dev/null || { echo "cluster.sh: nats-server is not installed" >&2; exit 1; }
if [[ ! -f "$SOURCE" ]]; then
  mkdir -p "$CACHE"
  python3 bench/make_events.py --events 1000000 --leads 100000 >"$SOURCE"
fi
WORK=$(mktemp -d /tmp/handoff-cluster-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
head -"$EVENTS" "$SOURCE" >"$WORK/events.ndjson"

# Three NATS servers, clustered, JetStream on, with fresh stores under $WORK/$1; sets URLS.
start_nats() {
  local CLIENT=() ROUTE=()
  for i in 0 1 2; do CLIENT+=("$(free_port)"); ROUTE+=("$(free_port)"); done
  local ROUTES="nats://127.0.0.1:${ROUTE[0]},nats://127.0.0.1:${ROUTE[1]},nats://127.0.0.1:${ROUTE[2]}"
  for i in 0 1 2; do
    nats-server -a 127.0.0.1 -p "${CLIENT[$i]}" -n "n$i" -js -sd "$WORK/$1/nats$i" \
      --cluster_name bench --cluster "nats://127.0.0.1:${ROUTE[$i]}" --routes "$ROUTES" \
      >"$WORK/$1-nats$i.log" 2>&1 &
    PIDS+=($!)
    NATS_PIDS+=($!)
  done
  URLS="nats://127.0.0.1:${CLIENT[0]},nats://127.0.0.1:${CLIENT[1]},nats://127.0.0.1:${CLIENT[2]}"
}
NATS_PIDS=()
start_nats one

# Starts handoffd NAME [flags...]; sets INGEST and HTTP.
start_daemon() {
  local name=$1
  shift
  INGEST=$(free_port) HTTP=$(free_port)
  "$BUILD/handoffd" --data-dir "$WORK/$name" --ingest "127.0.0.1:$INGEST" --subscribe 127.0.0.1:0 \
    --http "127.0.0.1:$HTTP" --rules rules/examples/default.yaml --watch false "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 300); do
    grep -q "http listening" "$WORK/$name.log" && return 0
    sleep 0.1
  done
  echo "cluster.sh: $name did not start: $(tail -3 "$WORK/$name.log")" >&2
  exit 1
}
applied() {
  curl -s "http://127.0.0.1:$HTTP/metrics" |
    awk '/^handoff_events_applied_total\{transport="tcp"\}/ {printf "%d", $2}'
}

start_daemon cluster --cluster "$URLS" --node-id bench-node
# Not timed: the three servers electing a JetStream leader and the node making the stream.
for _ in $(seq 600); do
  grep -q "applying the event log" "$WORK/cluster.log" && break
  sleep 0.1
done
t0=$(now)
"$BUILD/handoff" send -q --ingest "127.0.0.1:$INGEST" "$WORK/events.ndjson"
until [[ "$(applied)" -ge "$EVENTS" ]]; do sleep 0.05; done
t1=$(now)
cluster_rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")
kill -9 "${PIDS[-1]}" 2>/dev/null || true  # the one node: idle from here on, but not on our cores

# Two nodes on a fresh NATS cluster: timed once each holds half of the partitions.
for p in "${NATS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
start_nats two
start_daemon node1 --cluster "$URLS" --node-id bench-1 --cluster-lease 3s
INGEST1=$INGEST HTTP1=$HTTP
start_daemon node2 --cluster "$URLS" --node-id bench-2 --cluster-lease 3s
INGEST2=$INGEST HTTP2=$HTTP
partitions() {
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^handoff_cluster_partitions / {printf "%d", $2}'
}
for _ in $(seq 600); do
  [[ "$(partitions "$HTTP1")" == 8 && "$(partitions "$HTTP2")" == 8 ]] && break
  sleep 0.1
done
split -n l/2 "$WORK/events.ndjson" "$WORK/half."
t0=$(now)
"$BUILD/handoff" send -q --ingest "127.0.0.1:$INGEST1" "$WORK/half.aa" &
SEND1=$!
"$BUILD/handoff" send -q --ingest "127.0.0.1:$INGEST2" "$WORK/half.ab"
wait "$SEND1"
until [[ $(($(HTTP=$HTTP1 applied) + $(HTTP=$HTTP2 applied))) -ge "$EVENTS" ]]; do sleep 0.05; done
t1=$(now)
two_rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")

start_daemon single
t0=$(now)
"$BUILD/handoff" send -q --ingest "127.0.0.1:$INGEST" "$WORK/events.ndjson"
t1=$(now)
single_rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")

echo "events: $EVENTS from $SOURCE"
echo "cluster mode, 1 node, R3 on 3 local nats-server (acked and applied): $cluster_rate events/s"
echo "cluster mode, 2 nodes sharing 16 partitions, half the events sent to each (acked and applied): $two_rate events/s"
echo "single daemon (acked, durable): $single_rate events/s"
echo "ratio: $(python3 -c "print(round($single_rate / $cluster_rate, 1))")x"
