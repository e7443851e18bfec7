#!/usr/bin/env bash
# Installs the Debian packages Handoff builds with, when any is missing. Safe to run every time:
# it only calls apt-get when something is not installed yet.
#   tools/setup.sh        what the build, the tests and the static checks need
#   tools/setup.sh fuzz   also clang and its libFuzzer/sanitizer runtimes (tools/fuzz.sh)
#   tools/setup.sh browser  also Debian's chromium, for the web UI's browser tests (tests/browser;
#                         playwright-core drives it, never a browser it downloads)
set -euo pipefail
packages=(
  g++ cmake ninja-build pkg-config
  libboost-dev libsimdjson-dev librocksdb-dev libyaml-cpp-dev libre2-dev
  libhowardhinnant-date-dev libcli11-dev libabsl-dev libssl-dev zlib1g-dev tzdata
  libgoogle-perftools-dev
  libgtest-dev libgmock-dev libbenchmark-dev clang-tidy clang-format
  nats-server libnats-dev
  nodejs npm
)
if [[ "${1:-}" == fuzz ]]; then
  # Debian 12's clang is clang 14; -fsanitize=fuzzer needs its compiler-rt (libclang_rt.fuzzer).
  packages+=(clang libclang-rt-14-dev)
fi
if [[ "${1:-}" == browser ]]; then
  packages+=(chromium)
fi
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs/npm may come from outside Debian's packages on some machines; a working `npm` is enough.
if command -v npm >/dev/null 2>&1; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
