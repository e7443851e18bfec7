#!/usr/bin/env bash
# The README's two commands:
#   tools/dev.sh run    install what is missing, build, start handoffd on the example rules
#   tools/dev.sh test   install what is missing, build, run every test through ctest
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
build_type=${BUILD_TYPE:-RelWithDebInfo}
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
cmake --build build
case "${1:-}" in
  run)
    shift
    exec build/handoffd --rules rules/examples/default.yaml "$@"
    ;;
  test)
    ctest --test-dir build --output-on-failure -j"$(nproc)"
    ;;
  *)
    echo "usage: tools/dev.sh run|test" >&2
    exit 2
    ;;
esac
