#!/usr/bin/env bash
# bench/run.sh: Handoff's performance figures beside a peer and the machine's ceiling, measured in
# one run and printed as one table (bench/README.md explains every row).
#
#   bench/run.sh                  everything (about 5-10 minutes on a 2-core VM)
#   QUICK=1 bench/run.sh          without the 10M-lead row
#   LEADS_BIG=2000000 bench/run.sh   a smaller "many leads" row (EVENTS_BIG defaults to LEADS_BIG)
#
# Settings (environment): EVENTS (1000000) and LEADS (100000) for the shared event file;
# LEADS_BIG (10000000) and EVENTS_BIG (= LEADS_BIG) for the many-leads row; BUILD_DIR (build);
# BENCH_CACHE (/tmp/handoff-bench-cache: the generated 1M-event file and its Redis form, reused
# by later runs); BIG_RSS_LIMIT_MB (half the available memory, at most 10240): the many-leads send
# stops when handoffd's VmRSS passes it, so the run cannot take the machine's memory from other
# work; START_TIMEOUT (600 s) for a
# daemon start; KEEP=1 keeps the temporary directory (daemon logs, outputs).
#
# Needs the project built (tools/dev.sh test or run does it; this script builds the few targets
# it uses). Installs redis-server (the peer) and curl with apt-get when missing, as root or
# through sudo. Every server it starts listens on 127.0.0.1 on a free port, works in a temporary
# directory, and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
EVENTS=${EVENTS:-1000000}
LEADS=${LEADS:-100000}
LEADS_BIG=${LEADS_BIG:-10000000}
EVENTS_BIG=${EVENTS_BIG:-$LEADS_BIG}
QUICK=${QUICK:-0}
CACHE=${BENCH_CACHE:-/tmp/handoff-bench-cache}

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# ---- prerequisites ---------------------------------------------------------------------------

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
tools/setup.sh
missing=()
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
# Debian's package starts a system redis on 6379; this script runs its own and leaves that alone.

if [[ ! -f $BUILD/build.ninja && ! -f $BUILD/Makefile ]]; then
  log "configuring $BUILD"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
log "building the programs the run uses"
cmake --build "$BUILD" --target handoffd handoff http_batch_load make_events_tool \
  loopback_ceiling_tool >/dev/null

# ---- temporary directory and clean-up --------------------------------------------------------

WORK=$(mktemp -d /tmp/handoff-bench.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${KEEP:-0} == 1 ]]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do
    [[ $p == "$1" ]] || keep+=("$p")
  done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

now() { date +%s.%N; }
# elapsed START END: seconds between two `now` readings.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# calc EXPRESSION: awk arithmetic, printed with up to 6 significant digits.
calc() { awk "BEGIN { print $1 }"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- the daemon ------------------------------------------------------------------------------

DAEMON_PID=""
INGEST_PORT=""
SUB_PORT=""
HTTP_PORT=""

# start_daemon NAME DATA_DIR RULES [PORTS]: starts handoffd with default settings on free ports
# (or, with PORTS="ingest sub http", those), waits until its HTTP listener is up.
start_daemon() {
  local name=$1 data=$2 rules=$3 ports=${4:-}
  local logf=$WORK/$name.log
  local ingest=0 sub=0 http=0
  if [[ -n $ports ]]; then read -r ingest sub http <<<"$ports"; fi
  "$BUILD/handoffd" --ingest "127.0.0.1:$ingest" --subscribe "127.0.0.1:$sub" \
    --http "127.0.0.1:$http" --data-dir "$data" --rules "$rules" --watch false \
    >"$logf" 2>&1 &
  DAEMON_PID=$!
  PIDS+=("$DAEMON_PID")
  local i
  for ((i = 0; i < ${START_TIMEOUT:-600} * 100; i++)); do
    if grep -qs ' http listening on ' "$logf"; then break; fi
    kill -0 "$DAEMON_PID" 2>/dev/null || die "handoffd ($name) exited: $(tail -5 "$logf")"
    sleep 0.01
  done
  grep -qs ' http listening on ' "$logf" ||
    die "handoffd ($name) did not start in ${START_TIMEOUT:-600} s"
  INGEST_PORT=$(sed -n 's/.* ingest listening on .*:\([0-9]*\)$/\1/p' "$logf" | tail -1)
  SUB_PORT=$(sed -n 's/.* subscribe listening on .*:\([0-9]*\)$/\1/p' "$logf" | tail -1)
  HTTP_PORT=$(sed -n 's/.* http listening on .*:\([0-9]*\)$/\1/p' "$logf" | tail -1)
}

stop_daemon() {
  kill -TERM "$DAEMON_PID" 2>/dev/null || true
  wait "$DAEMON_PID" 2>/dev/null || true
  forget_pid "$DAEMON_PID"
  DAEMON_PID=""
}

# metric SERIES: one sample of the running daemon's /metrics (SERIES as printed, labels included),
# as a whole number (the daemon writes 1000000 as 1e+06), or ? when absent.
metric() {
  curl -sf "http://127.0.0.1:$HTTP_PORT/metrics" |
    awk -v s="$1" 'index($0, s " ") == 1 { printf "%.0f\n", $NF; found = 1 }
      END { if (!found) print "?" }'
}
APPLIED_TCP='handoff_events_applied_total{transport="tcp"}'

# send_file FILE CONNECTIONS OUT: `handoff send` to the running daemon; prints events/s.
send_file() {
  "$BUILD/handoff" send -q --max-ack-gap --connections "$2" --ingest "127.0.0.1:$INGEST_PORT" \
    "$1" >"$3" 2>&1 || die "handoff send failed: $(tail -3 "$3")"
  sed -n 's/.*(\([0-9]*\) lines\/s).*/\1/p' "$3"
}
ack_gap_ms() { sed -n 's/^longest wait between acks: \([0-9.]*\) ms.*/\1/p' "$1"; }

# thread_cpu EVENTS: the running daemon's CPU time so far (user + system, from
# /proc/PID/task/*/stat) per event, by thread: "engine 4.21 us, engine-commit 2.30, ...". RocksDB's
# flush and compaction threads count together; the io thread is named handoffd.
thread_cpu() {
  local tick task
  tick=$(getconf CLK_TCK)
  for task in /proc/"$DAEMON_PID"/task/*; do
    # The stat fields after comm's closing parenthesis (comm may hold spaces): utime and stime
    # are the 12th and 13th. Ticks first, then the name's first word.
    printf '%s %s\n' "$(sed 's/.*) //' "$task/stat" | awk '{ print $12 + $13 }')" "$(cat "$task/comm")"
  done | awk -v events="$1" -v tick="$tick" '
    { name = $2; if (name ~ /^rocksdb:/) name = "rocksdb"; if (name == "handoffd") name = "io";
      ticks[name] += $1 }
    END {
      n = split("engine engine-commit io rocksdb", order, " ")
      for (i = 1; i <= n; i++) { seen[order[i]] = 1
        printf "%s%s %.2f us", (i > 1 ? ", " : ""), order[i], ticks[order[i]] / tick / events * 1e6 }
      for (k in ticks) if (!(k in seen) && ticks[k] > 0) rest += ticks[k]
      printf ", other threads %.2f us\n", rest / tick / events * 1e6 }'
}

# ---- the event files -------------------------------------------------------------------------

mkdir -p "$CACHE"
FILE=$CACHE/events-$EVENTS-$LEADS.ndjson
if [[ ! -s $FILE ]]; then
  log "writing $FILE (bench/make_events.py, $EVENTS events over $LEADS leads)"
  python3 bench/make_events.py --events "$EVENTS" --leads "$LEADS" >"$FILE.tmp"
  mv "$FILE.tmp" "$FILE"
fi
RESP=$CACHE/events-$EVENTS-$LEADS.resp
if [[ ! -s $RESP || $RESP -ot bench/events_to_resp.py ]]; then
  log "writing $RESP (the same events as Redis FCALL commands)"
  python3 bench/events_to_resp.py <"$FILE" >"$RESP.tmp"
  mv "$RESP.tmp" "$RESP"
fi
LINES=$(wc -l <"$FILE")
cp rules/examples/default.yaml "$WORK/default.yaml"
STARTED=$(now)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. TCP ingest over 1, 4 and 16 connections ----------------------------------------------

declare -A RATE GAP APPLIED CPU
for c in 1 4 16; do
  log "TCP ingest: $LINES events over $c connection(s)"
  start_daemon "tcp-$c" "$WORK/data-tcp-$c" "$WORK/default.yaml"
  RATE[$c]=$(send_file "$FILE" "$c" "$WORK/send-$c.out")
  GAP[$c]=$(ack_gap_ms "$WORK/send-$c.out")
  APPLIED[$c]=$(metric "$APPLIED_TCP")
  CPU[$c]=$(thread_cpu "$LINES")
  stop_daemon
  rm -rf "$WORK/data-tcp-$c"
  log "  ${RATE[$c]} events/s, ${APPLIED[$c]} applied, longest ack gap ${GAP[$c]} ms"
  log "  CPU per event by thread: ${CPU[$c]}"
done

# ---- peer: Redis + Lua, the same events ------------------------------------------------------

log "Redis+Lua peer: $LINES FCALLs through redis-cli --pipe (appendonly, fsync every second)"
REDIS_PORT=$(free_port)
mkdir -p "$WORK/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes \
  --appendfsync everysec --save '' --daemonize no --logfile "$WORK/redis/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for ((i = 0; i < 500; i++)); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.01
done
REDIS_VERSION=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
redis-cli -p "$REDIS_PORT" FUNCTION LOAD REPLACE "$(cat bench/redis_peer.lua)" >/dev/null
t0=$(now)
redis-cli -p "$REDIS_PORT" --pipe <"$RESP" >"$WORK/redis/pipe.out" 2>&1
t1=$(now)
grep -q "errors: 0, replies: $LINES" "$WORK/redis/pipe.out" ||
  die "redis --pipe: $(tail -2 "$WORK/redis/pipe.out")"
REDIS_SECONDS=$(elapsed "$t0" "$t1")
REDIS_RATE=$(calc "int($LINES / $REDIS_SECONDS)")
REDIS_ROUTED=$(redis-cli -p "$REDIS_PORT" XLEN routed)
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
wait "$REDIS_PID" 2>/dev/null || true
forget_pid "$REDIS_PID"
log "  $REDIS_RATE events/s ($REDIS_SECONDS s), $REDIS_ROUTED leads qualified"

# ---- ceiling: raw loopback ---------------------------------------------------------------------

log "loopback ceiling: the file's bytes over one loopback connection, newlines counted"
"$BUILD/loopback_ceiling_tool" "$FILE" >"$WORK/loopback.out"
LOOPBACK_RATE=$(sed -n 's/.*: \([0-9]*\) lines\/s.*/\1/p' "$WORK/loopback.out")
log "  $(cat "$WORK/loopback.out")"

# ---- 2. Segment HTTP /v1/batch -----------------------------------------------------------------

log "HTTP /v1/batch: 100-event batches, 8 keep-alive connections (build/http_batch_load)"
"$BUILD/http_batch_load" --connections 8 >"$WORK/http.out" 2>&1 ||
  die "http_batch_load: $(tail -3 "$WORK/http.out")"
HTTP_RATE=$(awk '$1 == "events/s" { print $2 }' "$WORK/http.out")
HTTP_P99=$(sed -n 's/.*batch latency .*p99 \([0-9.]*\) ms.*/\1/p' "$WORK/http.out")
log "  $HTTP_RATE events/s, batch p99 $HTTP_P99 ms"

# ---- 3. event-to-routed latency ----------------------------------------------------------------

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
# run_loadgen NAME WRITE_INTERVAL_MS: one 10 s loadgen run against a fresh daemon, into
# $WORK/loadgen-NAME.out.
run_loadgen() {
  log "event-to-routed: loadgen at 50,000 events/s for 10 s, every third event qualifies a lead," \
    "a write every $2 ms"
  start_daemon latency "$WORK/data-latency" "$WORK/default.yaml"
  "$BUILD/handoff" loadgen --rate 50000 --qualify-every 3 --duration 10 --json \
    --write-interval-ms "$2" --ingest "127.0.0.1:$INGEST_PORT" --subscribe "127.0.0.1:$SUB_PORT" \
    >"$WORK/loadgen-$1.out" 2>"$WORK/loadgen-$1.err" ||
    log "  loadgen: $(tail -2 "$WORK/loadgen-$1.err")"
  stop_daemon
  rm -rf "$WORK/data-latency"
  log "  p50 $(json "$WORK/loadgen-$1.out" 'd["latency_ms"]["p50"]') ms," \
    "p99 $(json "$WORK/loadgen-$1.out" 'd["latency_ms"]["p99"]') ms"
}
# The target's row: 100-event writes. Then the same load in 12-13-event writes, closer to many
# trackers each sending as its visitors act: a write's events wait for each other's apply.
run_loadgen bursts 2
run_loadgen fine 0.25
LAT_P50=$(json "$WORK/loadgen-bursts.out" 'd["latency_ms"]["p50"]')
LAT_P99=$(json "$WORK/loadgen-bursts.out" 'd["latency_ms"]["p99"]')
LAT_ACHIEVED=$(json "$WORK/loadgen-bursts.out" 'int(d["achieved_rate"])')
LAT_ROUTED=$(json "$WORK/loadgen-bursts.out" 'str(d["routed"]) + " of " + str(d["expected_routed"])')
FINE_P50=$(json "$WORK/loadgen-fine.out" 'd["latency_ms"]["p50"]')
FINE_P99=$(json "$WORK/loadgen-fine.out" 'd["latency_ms"]["p99"]')
FINE_ACHIEVED=$(json "$WORK/loadgen-fine.out" 'int(d["achieved_rate"])')

# ---- 4. many leads: memory, throughput, restart --------------------------------------------------

if [[ $QUICK != 1 ]]; then
  BIG=$WORK/events-big.ndjson
  log "many leads: writing $EVENTS_BIG events over $LEADS_BIG distinct leads"
  "$BUILD/make_events_tool" --events "$EVENTS_BIG" --leads "$LEADS_BIG" --out "$BIG"
  start_daemon big "$WORK/data-big" "$WORK/default.yaml"
  BIG_PORTS="$INGEST_PORT $SUB_PORT $HTTP_PORT"
  # Leads live in memory: a daemon that would outgrow the machine (and the other work on it) is
  # stopped at BIG_RSS_LIMIT_MB, and the row reports how far it got.
  available_mb=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
  limit_mb=${BIG_RSS_LIMIT_MB:-$((available_mb / 2 < 10240 ? available_mb / 2 : 10240))}
  rss_limit_kb=$((limit_mb * 1024))
  log "  sending them over one connection (stopping if handoffd's VmRSS passes $((rss_limit_kb / 1024)) MB)"
  "$BUILD/handoff" send -q --ingest "127.0.0.1:$INGEST_PORT" "$BIG" >"$WORK/send-big.out" 2>&1 &
  SEND_PID=$!
  PIDS+=("$SEND_PID")
  t0=$(now)
  BIG_ABORTED=no
  BIG_PEAK_KB=0
  while kill -0 "$SEND_PID" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
    ((rss > BIG_PEAK_KB)) && BIG_PEAK_KB=$rss
    if ((rss > rss_limit_kb)); then
      BIG_ABORTED=yes
      kill "$SEND_PID" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  wait "$SEND_PID" || [[ $BIG_ABORTED == yes ]] || die "handoff send: $(tail -3 "$WORK/send-big.out")"
  t1=$(now)
  forget_pid "$SEND_PID"
  BIG_APPLIED=$(metric "$APPLIED_TCP")
  if [[ $BIG_ABORTED == yes ]]; then
    BIG_RATE=$(calc "int($BIG_APPLIED / $(elapsed "$t0" "$t1"))")
    echo "stopped after $BIG_APPLIED events: VmRSS over the limit" >"$WORK/send-big.out"
  else
    BIG_RATE=$(sed -n 's/.*(\([0-9]*\) lines\/s).*/\1/p' "$WORK/send-big.out")
  fi
  BIG_LEADS=$(metric handoff_leads)
  BIG_RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
  BIG_RSS_GB=$(calc "$BIG_RSS_KB / 1048576")
  log "  $BIG_RATE events/s, $BIG_LEADS leads, VmRSS $BIG_RSS_KB kB (peak seen $BIG_PEAK_KB kB)" \
    "$([[ $BIG_ABORTED == yes ]] && echo '- stopped at the memory limit')"
  rm -f "$BIG"
  kill -9 "$DAEMON_PID"
  wait "$DAEMON_PID" 2>/dev/null || true
  forget_pid "$DAEMON_PID"
  log "  kill -9, then start on the same data and poll GET /healthz"
  t0=$(now)
  start_daemon big-restart "$WORK/data-big" "$WORK/default.yaml" "$BIG_PORTS"
  until curl -sf "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null; do sleep 0.01; done
  t1=$(now)
  RESTART_S=$(elapsed "$t0" "$t1")
  RESTART_LEADS=$(metric handoff_leads)
  RESTART_RSS_KB=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
  log "  healthy after $RESTART_S s with $RESTART_LEADS leads, VmRSS $RESTART_RSS_KB kB"
  kill -9 "$DAEMON_PID" # a clean stop of this many leads takes a while and measures nothing
  wait "$DAEMON_PID" 2>/dev/null || true
  forget_pid "$DAEMON_PID"
  rm -rf "$WORK/data-big"
fi

# ---- 5. hot reload of a 1,000-rule file under full load ------------------------------------------

log "reload: 1,000 generated rules swapped in while $LINES events stream in"
python3 bench/make_rules.py --rules 1000 >"$WORK/big-rules.yaml"
"$BUILD/handoff" lint "$WORK/big-rules.yaml" >"$WORK/lint.out" ||
  die "generated rules do not lint: $(head -3 "$WORK/lint.out")"
RULE_COUNT=$(sed -n 's/.* \([0-9]*\) rules.*/\1/p' "$WORK/lint.out")
mkdir -p "$WORK/rules"
cp "$WORK/default.yaml" "$WORK/rules/current.yaml"
start_daemon reload "$WORK/data-reload" "$WORK/rules/current.yaml"
"$BUILD/handoff" send -q --max-ack-gap --ingest "127.0.0.1:$INGEST_PORT" "$FILE" \
  >"$WORK/send-reload.out" 2>&1 &
SEND_PID=$!
PIDS+=("$SEND_PID")
send_start=$(now)
# Reload once a third of the events are in, so the swap happens under full load.
until [[ $(metric "$APPLIED_TCP") != "?" && $(metric "$APPLIED_TCP") -ge $((LINES / 3)) ]]; do
  kill -0 "$SEND_PID" 2>/dev/null || break
  sleep 0.05
done
cp "$WORK/big-rules.yaml" "$WORK/rules/next.yaml"
mv "$WORK/rules/next.yaml" "$WORK/rules/current.yaml"
t0=$(now)
RELOAD_ANSWER=$(curl -s -X POST "http://127.0.0.1:$HTTP_PORT/v1/rules/reload")
t1=$(now)
RELOAD_AT=$(elapsed "$send_start" "$t0")
RELOAD_CALL_S=$(elapsed "$t0" "$t1")
UNDER_LOAD=yes
kill -0 "$SEND_PID" 2>/dev/null || UNDER_LOAD=no
wait "$SEND_PID" || die "handoff send during the reload failed: $(tail -3 "$WORK/send-reload.out")"
forget_pid "$SEND_PID"
RELOAD_GAP=$(ack_gap_ms "$WORK/send-reload.out")
RELOAD_GAP_AT=$(sed -n 's/.*ending \([0-9.]*\) s after.*/\1/p' "$WORK/send-reload.out")
RELOAD_APPLIED=$(metric "$APPLIED_TCP")
stop_daemon
rm -rf "$WORK/data-reload"
log "  answer $RELOAD_ANSWER in $RELOAD_CALL_S s, ~$RELOAD_AT s into the send (under load: $UNDER_LOAD)"
log "  longest ack gap $RELOAD_GAP ms (ending at $RELOAD_GAP_AT s), $RELOAD_APPLIED of $LINES applied"
FINISHED=$(now)

# ---- the table ---------------------------------------------------------------------------------

fmt() { LC_ALL=C awk -v n="$1" 'BEGIN { s = sprintf("%d", n); r = "";
  while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
  print s r }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }
met() { awk "BEGIN { print ($1) ? \"yes\" : \"no\" }"; }

ROWS=()
row() { ROWS+=("$1|$2|$3|$4|$5|$6"); }
for c in 1 4 16; do
  s=""
  [[ $c == 1 ]] || s="s"
  row "TCP ingest, $c connection$s (events/s)" "$(fmt "${RATE[$c]}")" \
    "Redis+Lua $(fmt "$REDIS_RATE")" "$(ratio "${RATE[$c]}" "$REDIS_RATE")" \
    ">= 1,000,000 and >= 10x peer" \
    "$(met "${RATE[$c]} >= 1000000 && ${RATE[$c]} >= 10 * $REDIS_RATE")"
done
row "TCP ingest, 1 connection, vs the wire" "$(fmt "${RATE[1]}")" \
  "loopback $(fmt "$LOOPBACK_RATE")" "$(ratio "${RATE[1]}" "$LOOPBACK_RATE")" "(ceiling)" "-"
row "HTTP /v1/batch, 8 connections (events/s)" "$(fmt "$HTTP_RATE")" \
  "loopback $(fmt "$LOOPBACK_RATE")" "$(ratio "$HTTP_RATE" "$LOOPBACK_RATE")" ">= 500,000" \
  "$(met "$HTTP_RATE >= 500000")"
row "event-to-routed p99 at 50k/s, 1 in 3 qualifies" "$LAT_P99 ms" "-" "-" "<= 1 ms" \
  "$(met "$LAT_P99 <= 1 && $LAT_ACHIEVED >= 45000")"
row "event-to-routed p99, the same in 0.25 ms writes" "$FINE_P99 ms" \
  "2 ms writes $LAT_P99 ms" "-" "(burst size)" "-"
if [[ $QUICK != 1 ]]; then
  big=$(fmt "$LEADS_BIG")
  stopped=""
  [[ $BIG_ABORTED == yes ]] && stopped=" (stopped at $(fmt "$BIG_LEADS") leads)"
  row "$big leads: daemon VmRSS" "$(printf '%.2f GB' "$BIG_RSS_GB")$stopped" "-" "-" "<= 2 GB" \
    "$(met "$BIG_RSS_KB <= 2 * 1048576 && \"$BIG_ABORTED\" == \"no\"")"
  row "$big leads: TCP ingest, 1 connection" "$(fmt "$BIG_RATE")" \
    "$(fmt "$LEADS") leads $(fmt "${RATE[1]}")" "$(ratio "$BIG_RATE" "${RATE[1]}")" \
    ">= 0.70x" "$(met "$BIG_RATE >= 0.7 * ${RATE[1]}")"
  row "$big leads: kill -9 to healthy" "$RESTART_S s" "-" "-" "<= 10 s" \
    "$(met "$RESTART_S <= 10 && $RESTART_LEADS == $BIG_LEADS")"
fi
row "reload $(fmt "$RULE_COUNT") rules under load: longest ack gap" "$RELOAD_GAP ms" \
  "no reload ${GAP[1]} ms" "-" "<= 100 ms" \
  "$(met "$RELOAD_GAP <= 100 && \"$UNDER_LOAD\" == \"yes\"")"
row "reload under load: events lost" "$((LINES - RELOAD_APPLIED))" "-" "-" "0" \
  "$(met "$RELOAD_APPLIED == $LINES")"

echo
echo "Handoff benchmarks, $(date -u +'%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)," \
  "$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM;" \
  "load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg)"
echo "events: $(fmt "$LINES") from bench/make_events.py over $(fmt "$LEADS") leads;" \
  "peer: Redis $REDIS_VERSION + Lua function, appendfsync everysec, one redis-cli --pipe connection"
echo
{
  echo "figure|ours|peer or ceiling|ratio|target|met"
  echo "---|---|---|---|---|---"
  printf '%s\n' "${ROWS[@]}"
} | awk -F'|' '
  { for (i = 1; i <= NF; i++) { cell[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
  END {
    for (r = 1; r <= n; r++) {
      line = "|"
      for (i = 1; i <= 6; i++) {
        c = cell[r, i]
        if (r == 2) { c = ""; while (length(c) < w[i]) c = c "-" }
        line = line " " sprintf("%-" w[i] "s", c) " |"
      }
      print line
    }
  }'
echo
echo "details:"
for c in 1 4 16; do
  echo "  send over $c: $(head -1 "$WORK/send-$c.out"); applied ${APPLIED[$c]}; longest ack gap ${GAP[$c]} ms"
  echo "    CPU per event by thread: ${CPU[$c]}"
done
echo "  redis: $REDIS_SECONDS s for $LINES FCALLs, $REDIS_ROUTED leads qualified (XLEN routed)"
echo "  $(cat "$WORK/loopback.out")"
echo "  http: $HTTP_RATE events/s, batch p99 $HTTP_P99 ms; $(grep 'check:' "$WORK/http.out" | sed 's/^ *//')"
echo "  loadgen: p50 $LAT_P50 ms, p99 $LAT_P99 ms, achieved $LAT_ACHIEVED events/s, routed $LAT_ROUTED"
echo "  loadgen, 0.25 ms writes: p50 $FINE_P50 ms, p99 $FINE_P99 ms, achieved $FINE_ACHIEVED events/s"
if [[ $QUICK != 1 ]]; then
  echo "  many leads: $(head -1 "$WORK/send-big.out"); $BIG_LEADS leads; VmRSS $BIG_RSS_KB kB;" \
    "peak VmRSS seen $BIG_PEAK_KB kB; after restart $RESTART_LEADS leads, VmRSS $RESTART_RSS_KB kB"
fi
echo "  reload: answer $RELOAD_ANSWER in $RELOAD_CALL_S s, sent ~$RELOAD_AT s into the send;" \
  "longest ack gap $RELOAD_GAP ms ending at $RELOAD_GAP_AT s; $(head -1 "$WORK/send-reload.out")"
echo "  total run time $(elapsed "$STARTED" "$FINISHED") s (after the event files were ready)"
