#!/usr/bin/env bash
# The README's commands:
#   tools/dev.sh run    install what is missing, build, start handoffd on the example rules
#   tools/dev.sh test   install what is missing, build, run every test through ctest
#   tools/dev.sh tidy   clang-tidy over the sources (.clang-tidy); fails on its error-level checks
#   tools/dev.sh format clang-format check: fails when any C++ file is not formatted (.clang-format)
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build_type=${BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
case "${1:-}" in
  run)
    shift
    cmake --build build
    exec build/handoffd --rules rules/examples/default.yaml "$@"
    ;;
  test)
    cmake --build build
    ctest --test-dir build --output-on-failure -j"$(nproc)"
    ;;
  tidy)
    # Needs only compile_commands.json, written by the configure step above.
    ls base/*.cc rules/*.cc net/*.cc storage/*.cc outbox/*.cc history/*.cc identity/*.cc ingest/*.cc scoring/*.cc \
      routing/*.cc core/*.cc api/*.cc subscribe/*.cc daemon/*.cc tools/*.cc |
      xargs -P"$(nproc)" -n4 clang-tidy -p build --quiet 2>/dev/null
    echo "clang-tidy: clean"
    ;;
  format)
    git ls-files '*.cc' '*.h' | xargs clang-format --dry-run -Werror
    echo "clang-format: clean"
    ;;
  *)
    echo "usage: tools/dev.sh run|test|tidy|format" >&2
    exit 2
    ;;
esac
