#!/usr/bin/env bash
# The libFuzzer targets (fuzz/, docs/fuzzing.md): installs what is missing (tools/setup.sh fuzz),
# builds them with clang in build-fuzz, then runs each, one after the other, for SECONDS on a
# working copy of its seed corpus (fuzz/corpus/<target>; the committed seeds stay as they are)
# with its dictionary (fuzz/dict/<target>.dict). Fails when any target crashes, hangs or a
# sanitizer reports; the input that did it is kept in build-fuzz/fuzz/artifacts/<target>/, and
# `build-fuzz/fuzz/fuzz_<target> FILE` replays it.
#
#   tools/fuzz.sh [SECONDS [TARGET...]]    SECONDS per target, default 20; all targets by default
#
# FUZZ_CPU=1 makes SECONDS CPU time instead of wall time, for long runs on a shared machine: each
# target runs in slices of at most 60 s of wall time until it has used SECONDS of CPU, and a crash
# does not end its run: it is counted, its input kept, and the target goes on (at most 20 crashes
# a target). FUZZ_KEEP_CORPUS=DIR keeps each target's grown corpus in DIR/<target> (a longer
# run's output, to mine for new seeds) and, when DIR/<target> already exists, starts from it too,
# so a long run can go in rounds; FUZZ_BUILD_JOBS limits the build's parallelism; FUZZ_NO_BUILD=1
# runs the targets as they are in build-fuzz (no install, no build). FUZZ_TIMEOUT (default 10)
# is libFuzzer's per-input limit in seconds of wall time: raise it for a run beside heavy load,
# where a starved (or paused) fuzzer reports ordinary inputs as timeouts.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
shift || true
all_targets=(ndjson_ingest rule_file expression http_request subscriber_line lead_codec funnel_codec)
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
fi

if [[ -z "${FUZZ_NO_BUILD:-}" ]]; then
  tools/setup.sh fuzz
  launcher=()
  if command -v ccache >/dev/null 2>&1; then
    launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  fi
  # -O1 and line tables only: the instrumented build is slow enough to compile as it is.
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=Fuzz \
    -DCMAKE_CXX_FLAGS_FUZZ="-O1 -gline-tables-only" -DHANDOFF_FUZZ=ON \
    -DHANDOFF_BUILD_TESTS=OFF -DHANDOFF_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
  build_targets=()
  for t in "${targets[@]}"; do
    build_targets+=("fuzz_$t")
  done
  cmake --build build-fuzz ${FUZZ_BUILD_JOBS:+-j"$FUZZ_BUILD_JOBS"} --target "${build_targets[@]}"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Sets cpu_now to the CPU seconds (user + system) of this shell's finished children: bash's
# `times`, second line. It must run in this shell, not in a $(...) subshell.
cpu_now=0
read_cpu() {
  times >"$work/.times"
  cpu_now=$(tail -n1 "$work/.times" | awk '{
    split($1, u, "m"); split($2, s, "m");
    printf "%.1f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
}
failed=()
printf '%-16s %8s %8s %10s %6s %7s %7s  %s\n' target wall_s cpu_s execs cov corpus crashes result
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  cp fuzz/corpus/"$t"/* "$work/$t/"
  if [[ -n "${FUZZ_KEEP_CORPUS:-}" && -d "$FUZZ_KEEP_CORPUS/$t" ]]; then
    cp "$FUZZ_KEEP_CORPUS/$t"/* "$work/$t/" 2>/dev/null || true
  fi
  artifacts=build-fuzz/fuzz/artifacts/$t
  mkdir -p "$artifacts"
  args=(-timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/")
  if [[ -f fuzz/dict/$t.dict ]]; then
    args+=(-dict=fuzz/dict/"$t".dict)
  fi
  log=build-fuzz/fuzz/$t.log
  : >"$log"
  start=$(date +%s)
  read_cpu
  cpu_start=$cpu_now
  cpu=0
  crashes=0
  execs=0
  while :; do
    slice=$seconds
    if [[ -n "${FUZZ_CPU:-}" ]]; then
      slice=$((seconds - cpu < 60 ? seconds - cpu : 60))
    fi
    if ! build-fuzz/fuzz/fuzz_"$t" "${args[@]}" -max_total_time="$slice" "$work/$t" >>"$log" 2>&1; then
      crashes=$((crashes + 1))
    fi
    read_cpu
    cpu=$(awk -v a="$cpu_start" -v b="$cpu_now" 'BEGIN { printf "%.0f", b - a }')
    slice_execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    execs=$((execs + ${slice_execs:-0}))
    echo "stat::number_of_executed_units: 0" >>"$log"  # so a slice that dies early adds none
    if [[ -z "${FUZZ_CPU:-}" ]] || ((cpu >= seconds || crashes >= 20)); then
      break
    fi
  done
  wall=$(($(date +%s) - start))
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
  result=ok
  if ((crashes > 0)); then
    result=FAILED
    failed+=("$t")
  fi
  printf '%-16s %8s %8s %10s %6s %7s %7s  %s\n' "$t" "$wall" "$cpu" "$execs" "${cov:-?}" \
    "$(ls "$work/$t" | wc -l)" "$crashes" "$result"
  if [[ $result != ok ]]; then
    echo "---- $log (the last crash) ----"
    grep -n -E 'invariant broken|ERROR: |SUMMARY|runtime error' "$log" | tail -n 8
    echo "---- inputs kept: $(ls -t "$artifacts" | head -n 5 | tr '\n' ' ')"
  fi
  if [[ -n "${FUZZ_KEEP_CORPUS:-}" ]]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t"
    cp "$work/$t"/* "$FUZZ_KEEP_CORPUS/$t/"
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: clean (${#targets[@]} targets, ${seconds}s each)"
