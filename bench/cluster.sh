#!/usr/bin/env bash
# Cluster mode's cost (docs/cluster.md): the same events into one, two and three handoffd nodes in
# cluster mode (each time three fresh local nats-server nodes, R3 stream; the events split over
# the nodes, one connection to each), and into a single handoffd; prints events/s for each.
#   bench/cluster.sh                 200,000 events of the benchmark file
#   EVENTS=50000 bench/cluster.sh
#   NODE_ARGS="--cluster-global-router false" bench/cluster.sh   more flags for every node
#   NODES="1" bench/cluster.sh       only the one-node run (and the single daemon)
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
    disown  # killed on purpose later: no "Killed" notice
  done
  URLS="nats://127.0.0.1:${CLIENT[0]},nats://127.0.0.1:${CLIENT[1]},nats://127.0.0.1:${CLIENT[2]}"
}
NATS_PIDS=()

# Starts handoffd NAME [flags...]; sets INGEST and HTTP.
start_daemon() {
  local name=$1
  shift
  INGEST=$(free_port) HTTP=$(free_port)
  "$BUILD/handoffd" --data-dir "$WORK/$name" --ingest "127.0.0.1:$INGEST" --subscribe 127.0.0.1:0 \
    --http "127.0.0.1:$HTTP" --rules rules/examples/default.yaml --watch false "$@" \
    >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  disown
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

partitions() {
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^handoff_cluster_partitions / {printf "%d", $2}'
}
# N handoffd nodes on a fresh NATS cluster, timed once they share the 16 partitions (each at
# least its floor share), the events split in N parts sent at once, one to each node, until
# every event is applied; sets RATE (events/s, all nodes together).
run_nodes() {
  local n=$1 i
  for p in "${NATS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  NATS_PIDS=()
  start_nats "nodes$n"
  local ingests=() https=() node_pids=()
  for i in $(seq "$n"); do
    # shellcheck disable=SC2086  # NODE_ARGS: words of flags
    start_daemon "n$n-node$i" --cluster "$URLS" --node-id "bench-$i" --cluster-lease 3s ${NODE_ARGS:-}
    ingests+=("$INGEST") https+=("$HTTP") node_pids+=("${PIDS[-1]}")
  done
  # Not timed: the servers' first JetStream election, the stream, the leases settling.
  local settled=0
  for _ in $(seq 900); do
    local sum=0 low=16
    for h in "${https[@]}"; do
      local got
      got=$(partitions "$h")
      got=${got:-0}
      sum=$((sum + got))
      ((got < low)) && low=$got
    done
    if ((sum == 16 && low >= 16 / n)); then settled=1 && break; fi
    sleep 0.1
  done
  ((settled)) || { echo "cluster.sh: $n nodes did not share the partitions" >&2; exit 1; }
  rm -f "$WORK"/part.*
  split -n "l/$n" -d "$WORK/events.ndjson" "$WORK/part."
  local parts=("$WORK"/part.*) senders=()
  local t0 t1
  t0=$(now)
  for i in $(seq 0 $((n - 1))); do
    "$BUILD/handoff" send -q --ingest "127.0.0.1:${ingests[$i]}" "${parts[$i]}" &
    senders+=($!)
  done
  for s in "${senders[@]}"; do wait "$s"; done
  while :; do
    local total=0
    for h in "${https[@]}"; do total=$((total + $(HTTP=$h applied))); done
    ((total >= EVENTS)) && break
    sleep 0.05
  done
  t1=$(now)
  RATE=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")
  # Idle from here on, but not on our cores.
  for p in "${node_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
NODES=${NODES:-1 2 3}
one_rate=0 two_rate=0 three_rate=0
for n in $NODES; do
  run_nodes "$n"
  case $n in 1) one_rate=$RATE ;; 2) two_rate=$RATE ;; 3) three_rate=$RATE ;; esac
done
for p in "${NATS_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done

start_daemon single
t0=$(now)
"$BUILD/handoff" send -q --ingest "127.0.0.1:$INGEST" "$WORK/events.ndjson"
t1=$(now)
single_rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")

echo "events: $EVENTS from $SOURCE"
echo "cluster mode, R3 on 3 local nats-server, acked and applied, the events split over the nodes:"
for n in $NODES; do
  rate_var=$([[ $n == 1 ]] && echo one_rate || ([[ $n == 2 ]] && echo two_rate || echo three_rate))
  rate=${!rate_var}
  echo "  $n node(s): $rate events/s together, $((rate / n)) per node"
done
echo "single daemon (acked, durable): $single_rate events/s"
((one_rate > 0)) && echo "cost of the hop (single / 1 node): $(python3 -c "print(round($single_rate / $one_rate, 1))")x"
