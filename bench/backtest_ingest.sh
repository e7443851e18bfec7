#!/usr/bin/env bash
# bench/backtest_ingest.sh: how much a running backtest slows ingest (issue: at most 10%).
#
# Starts handoffd on a fresh data directory with the example rules and loads PRELOAD events over
# LEADS leads (the history a backtest replays). Then one `handoff send` streams STREAM more events
# while the script alternates between quiet windows and windows in which a whole-store backtest
# runs (a candidate with another mql threshold), WINDOW seconds each, ROUNDS times, and reads the
# ingest rate of each window from handoff_events_applied_total. Prints every window's rate, the
# means and the slowdown. NO_BACKTEST=1 runs the same windows without backtests: the noise floor.
#
#   bench/backtest_ingest.sh        PRELOAD=3000000 LEADS=300000 STREAM=12000000 ROUNDS=6 WINDOW=5
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
PRELOAD=${PRELOAD:-3000000}
LEADS=${LEADS:-300000}
STREAM=${STREAM:-12000000}
ROUNDS=${ROUNDS:-6}
WINDOW=${WINDOW:-5}
PORT=${PORT:-7700}
HTTP="http://127.0.0.1:$((PORT + 2))"
WORK=$(mktemp -d /tmp/handoff-backtest-ingest.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
log() { echo "$(date -u +%H:%M:%S) $*" >&2; }

cmake --build "$BUILD" --target handoffd handoff make_events_tool >/dev/null
cp rules/examples/default.yaml "$WORK/rules.yaml"
sed 's/score.engagement >= 40/score.engagement >= 25/' rules/examples/default.yaml \
  >"$WORK/candidate.yaml"
"$BUILD/make_events_tool" --events "$PRELOAD" --leads "$LEADS" --seed 1 --out "$WORK/preload.ndjson"
"$BUILD/make_events_tool" --events "$STREAM" --leads "$LEADS" --seed 2 --out "$WORK/stream.ndjson"

"$BUILD/handoffd" --data-dir "$WORK/data" --rules "$WORK/rules.yaml" --stage-check-interval 0 \
  --ingest "127.0.0.1:$PORT" --subscribe "127.0.0.1:$((PORT + 1))" \
  --http "127.0.0.1:$((PORT + 2))" >"$WORK/daemon.log" 2>&1 &
PIDS+=($!)
until grep -q 'http listening' "$WORK/daemon.log"; do sleep 0.1; done

applied() {
  curl -s "$HTTP/metrics" |
    awk '/^handoff_events_applied_total\{transport="tcp"\} / { printf "%.0f\n", $NF }'
}
now() { date +%s.%N; }
log "preloading $PRELOAD events over $LEADS leads"
"$BUILD/handoff" send -q --ingest "127.0.0.1:$PORT" "$WORK/preload.ndjson" >/dev/null
t0=$(now)
curl -s -X POST --data-binary @"$WORK/candidate.yaml" "$HTTP/v1/rules/backtest?wait=60" \
  >"$WORK/idle.json"
IDLE_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
log "one backtest with nothing else running: $IDLE_S s"

"$BUILD/handoff" send -q --ingest "127.0.0.1:$PORT" "$WORK/stream.ndjson" >/dev/null 2>&1 &
SEND=$!
PIDS+=("$SEND")
sleep 2
window() { # -> events/s over WINDOW seconds
  local a t b
  a=$(applied)
  t=$(now)
  sleep "$WINDOW"
  b=$(applied)
  awk -v a="$a" -v b="$b" -v t="$t" -v u="$(now)" 'BEGIN { printf "%.0f\n", (b - a) / (u - t) }'
}
# Quiet and busy windows alternate (Q B Q B ... Q); each busy window is compared with the mean
# of the quiet windows on either side, so a rate that drifts as the store grows cancels out. A
# busy window's backtest is cancelled when the window ends (DELETE answers once it has stopped).
QUIET=("$(window)")
BUSY=()
for ((r = 1; r <= ROUNDS; r++)); do
  kill -0 "$SEND" 2>/dev/null || { log "the stream ended early: make STREAM larger"; break; }
  if [[ -z ${NO_BACKTEST:-} ]]; then # NO_BACKTEST=1: the control, the same windows without one
    ID=$(curl -s -X POST --data-binary @"$WORK/candidate.yaml" "$HTTP/v1/rules/backtest?wait=0" |
      sed -n 's/.*"id":"\([0-9]*\)".*/\1/p')
    sleep 0.3
  fi
  BUSY+=("$(window)")
  if [[ -z ${NO_BACKTEST:-} ]]; then
    curl -s -X DELETE "$HTTP/v1/rules/backtest/$ID" >"$WORK/cancel-$r.json"
  fi
  QUIET+=("$(window)")
  log "round $r: during a backtest ${BUSY[-1]} events/s, quiet before ${QUIET[-2]}, after ${QUIET[-1]}"
done
SUMMARY=$(for ((i = 0; i < ${#BUSY[@]}; i++)); do
  echo "${QUIET[i]} ${BUSY[i]} ${QUIET[i + 1]}"
done | awk '{ q = ($1 + $3) / 2; s += (q - $2) / q; qs += q; bs += $2; n++ }
  END { printf "%.0f %.0f %.1f", qs / n, bs / n, s * 100 / n }')
read -r Q B SLOW <<<"$SUMMARY"
echo "ingest, quiet windows:           $Q events/s (${QUIET[*]})"
echo "ingest, windows with a backtest: $B events/s (${BUSY[*]})"
echo "slowdown (mean over rounds):     $SLOW%"
echo "one backtest of $LEADS leads, nothing else running: $IDLE_S s"
