#!/usr/bin/env bash
# bench/backtest_ingest.sh: how much a running backtest slows ingest (issue: at most 10%).
#
# Starts handoffd on a fresh data directory with the example rules, loads PRELOAD events over
# LEADS leads (the history a backtest replays), then streams MEASURE new events over TCP twice:
# once alone and once while backtests of the whole store run back to back (a candidate with other
# stage thresholds, POST /v1/rules/backtest). Prints both ingest rates, the slowdown and how many
# backtests ran meanwhile.
#
#   bench/backtest_ingest.sh                 PRELOAD=2000000 LEADS=200000 MEASURE=2000000
#   PRELOAD=500000 LEADS=50000 bench/backtest_ingest.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PRELOAD=${PRELOAD:-2000000}
LEADS=${LEADS:-200000}
MEASURE=${MEASURE:-2000000}
PORT=${PORT:-7700}
WORK=$(mktemp -d /tmp/handoff-backtest-ingest.XXXXXX)
DAEMON_PID=
cleanup() {
  [[ -n $DAEMON_PID ]] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$(date -u +%H:%M:%S) $*" >&2; }

cmake --build "$BUILD" --target handoffd handoff make_events_tool >/dev/null
cp rules/examples/default.yaml "$WORK/rules.yaml"
sed 's/score.engagement >= 40/score.engagement >= 25/' rules/examples/default.yaml \
  >"$WORK/candidate.yaml"
"$BUILD/make_events_tool" --events "$PRELOAD" --leads "$LEADS" --seed 1 --out "$WORK/preload.ndjson"
"$BUILD/make_events_tool" --events "$MEASURE" --leads "$LEADS" --seed 2 --out "$WORK/alone.ndjson"
"$BUILD/make_events_tool" --events "$MEASURE" --leads "$LEADS" --seed 3 --out "$WORK/during.ndjson"

"$BUILD/handoffd" --data-dir "$WORK/data" --rules "$WORK/rules.yaml" --stage-check-interval 0 \
  --ingest "127.0.0.1:$PORT" --subscribe "127.0.0.1:$((PORT + 1))" \
  --http "127.0.0.1:$((PORT + 2))" >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
until grep -q 'http listening' "$WORK/daemon.log"; do sleep 0.1; done

send() { # FILE -> lines/s
  "$BUILD/handoff" send -q --ingest "127.0.0.1:$PORT" "$1" 2>&1 |
    sed -n 's/.*(\([0-9]*\) lines\/s).*/\1/p'
}
log "preloading $PRELOAD events over $LEADS leads"
send "$WORK/preload.ndjson" >/dev/null

backtest() { # -> elapsed_ms of one whole-store backtest
  curl -s -X POST --data-binary @"$WORK/candidate.yaml" \
    "http://127.0.0.1:$((PORT + 2))/v1/rules/backtest?wait=60" |
    sed -n 's/.*"elapsed_ms":\([0-9.]*\).*/\1/p'
}
ALONE_BACKTEST_MS=$(backtest)
log "one backtest with nothing else running: $ALONE_BACKTEST_MS ms"

log "ingest alone"
ALONE=$(send "$WORK/alone.ndjson")
log "ingest while backtests run"
(while true; do backtest >>"$WORK/backtests.txt"; done) &
LOOP_PID=$!
sleep 0.5
DURING=$(send "$WORK/during.ndjson")
kill "$LOOP_PID" 2>/dev/null || true
wait "$LOOP_PID" 2>/dev/null || true
RAN=$(grep -c . "$WORK/backtests.txt" || true)

echo "ingest alone:                $ALONE events/s"
echo "ingest during backtests:     $DURING events/s ($RAN backtests of $LEADS leads finished meanwhile)"
awk -v a="$ALONE" -v d="$DURING" 'BEGIN { printf "slowdown:                    %.1f%%\n", (a - d) * 100 / a }'
echo "one backtest, machine idle:  $ALONE_BACKTEST_MS ms"
