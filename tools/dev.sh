#!/usr/bin/env bash
# The README's commands:
#   tools/dev.sh run    install what is missing, build, start handoffd on the example rules
#   tools/dev.sh test   install what is missing, build, run every test through ctest
#   tools/dev.sh test --sanitize=address   the same under ASan+LSan+UBSan, in build-asan/
#   tools/dev.sh test --sanitize=thread    the same under TSan, in build-tsan/
#   tools/dev.sh tidy   clang-tidy over the sources (.clang-tidy); fails on its error-level checks
#   tools/dev.sh format clang-format check: fails when any C++ file is not formatted (.clang-format)
#   tools/dev.sh browser  the web UI's browser tests: installs chromium (apt) and playwright-core
#                       (npm ci, tests/browser/package-lock.json), builds, runs tests/browser
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
sanitize=""
if [[ "${1:-}" == test && "${2:-}" == --sanitize=* ]]; then
  sanitize=${2#--sanitize=}
fi
if [[ "${1:-}" == browser ]]; then
  tools/setup.sh browser
elif [[ -n "$sanitize" ]]; then
  tools/setup.sh fuzz  # clang and its sanitizer runtimes
else
  tools/setup.sh
fi
build_type=${BUILD_TYPE:-RelWithDebInfo}

if [[ "${1:-}" == tidy || "${1:-}" == format ]]; then
  :  # no build tree of the README's: format needs none, tidy configures its own (below)
elif [[ -z "$sanitize" ]]; then
  build=build
  # Line tables only (-g1): stack traces, perf and gdb's backtraces keep file and line, and the
  # build is a quarter faster than with full debug information (net/http_server.cc 31.2 s at -g,
  # 22.3 s at -g1, 20.6 s without). For local variables in gdb, configure with -g.
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" >/dev/null
else
  case "$sanitize" in
    address) build=build-asan ;;
    thread) build=build-tsan ;;
    *)
      echo "tools/dev.sh: --sanitize=address or --sanitize=thread, not '$sanitize'" >&2
      exit 2
      ;;
  esac
  # -O1 with line tables only: the sanitized build is for finding bugs, and it has to fit in CI's
  # time. No micro-benchmarks or load generators (they are for timing, which a sanitizer skews).
  # Built with clang (Debian 12's clang 14), which compiles this code ~40 % faster than g++ 12
  # under the sanitizers (the ASan build: 382 s against ~650 s; net/http_server.cc 53 s against
  # 75 s), and which makes the sanitized stages a second compiler's view of the code.
  cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DHANDOFF_SANITIZE="$sanitize" -DHANDOFF_BUILD_BENCH=OFF >/dev/null
  # Every process of the run (the test executables, the handoffd and handoff they start) writes
  # its sanitizer reports to its own file under $reports (<tool>.<pid>); any such file fails the
  # run, also a report from a daemon that a test stopped with SIGKILL or whose exit code it does
  # not look at. UBSan stops a process at its first report (-fno-sanitize-recover).
  reports=$root/$build/sanitizer-reports
  rm -rf "$reports"
  mkdir -p "$reports"
  if [[ "$sanitize" == address ]]; then
    export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:log_path=$reports/asan"
    export LSAN_OPTIONS="suppressions=$root/tools/lsan.supp:print_suppressions=0"
    export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"
  else
    # TSan does not stop a process at its first report, and exits 0 after reports: Debian's
    # RocksDB is not instrumented, so TSan reports races between RocksDB's own accesses (its
    # synchronisation is invisible). After the run, tools/tsan_filter.awk drops the reports in
    # which every access is RocksDB's and keeps every other one, which fails the run. Every
    # report is printed, also one on an address already reported, so a RocksDB-only report
    # cannot hide ours. (No UBSAN_OPTIONS here: clang's TSan runtime reads them too, and their
    # log_path would win.)
    unset UBSAN_OPTIONS
    export TSAN_OPTIONS="halt_on_error=0:exitcode=0:suppress_equal_addresses=0:second_deadlock_stack=1:suppressions=$root/tools/tsan.supp:print_suppressions=0:log_path=$reports/tsan"
  fi
fi

case "${1:-}" in
  run)
    shift
    cmake --build build
    exec build/handoffd --rules rules/examples/default.yaml "$@"
    ;;
  test)
    cmake --build "$build"
    status=0
    # Plain: two tests a core, since most tests wait on daemons, sockets and clocks more than they
    # compute (measured: -j2 159 s, -j4 95 s, -j6 114 s, the same CPU time in each). Sanitized:
    # one a core. There the tests compute (ASan's test phase: 343 s at -j2, 295-309 s at -j4), and
    # at -j4 a cluster test's list once missed a partition's leads, most likely a 4 s lease that
    # lapsed on the starved machine.
    jobs=$(nproc)
    if [[ -z "$sanitize" ]]; then
      jobs=$((2 * jobs))
    fi
    ctest --test-dir "$build" --output-on-failure -j"$jobs" || status=$?
    if [[ -n "$sanitize" ]]; then
      shopt -s nullglob
      found=()
      rocksdb_only=0
      for f in "$reports"/*; do
        if [[ "$sanitize" == thread ]]; then
          kept=$(awk -f tools/tsan_filter.awk "$f" 2>"$f.count")
          rocksdb_only=$((rocksdb_only + $(sed -n 's/^tsan_filter: [0-9]* kept, \([0-9]*\) .*/\1/p' "$f.count")))
          rm -f "$f.count"
          if [[ -z "$kept" ]]; then
            continue
          fi
        fi
        found+=("$f")
      done
      if ((${#found[@]})); then
        for f in "${found[@]}"; do
          echo "==== sanitizer report ${f#"$root"/}"
          if [[ "$sanitize" == thread ]]; then
            awk -f tools/tsan_filter.awk "$f" 2>/dev/null
          else
            cat "$f"
          fi
        done
        echo "tools/dev.sh: ${#found[@]} file(s) with sanitizer reports in $build/sanitizer-reports" >&2
        status=1
      else
        echo "sanitizer ($sanitize): no reports"
      fi
      if [[ "$sanitize" == thread ]]; then
        echo "sanitizer (thread): $rocksdb_only report(s) between RocksDB's own accesses ignored (tools/tsan_filter.awk)"
      fi
    fi
    exit "$status"
    ;;
  tidy)
    # Needs only compile_commands.json, from a tree of its own that is configured and never
    # built: there every file of the unity-built command-line tool has its own compile command
    # (in build/ clang-tidy had to guess one from a test file's), and no precompiled header of
    # g++'s sits in it for clang to reject (in build/ it did, once the tests were built).
    cmake -S . -B build-tidy -G Ninja -DCMAKE_BUILD_TYPE="$build_type" -DHANDOFF_UNITY=OFF >/dev/null
    ls base/*.cc rules/*.cc net/*.cc storage/*.cc outbox/*.cc history/*.cc identity/*.cc ingest/*.cc scoring/*.cc \
      routing/*.cc funnel/*.cc backtest/*.cc core/*.cc ui/*.cc api/*.cc subscribe/*.cc cluster/*.cc daemon/*.cc tools/*.cc |
      xargs -P"$(nproc)" -n4 clang-tidy -p build-tidy --quiet 2>/dev/null
    echo "clang-tidy: clean"
    ;;
  format)
    git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror
    echo "clang-format: clean"
    ;;
  browser)
    cmake --build build --target handoffd
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
    node tests/browser/ui_test.js build
    ;;
  *)
    echo "usage: tools/dev.sh run|test [--sanitize=address|thread]|tidy|format|browser" >&2
    exit 2
    ;;
esac
