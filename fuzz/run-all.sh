#!/usr/bin/env bash
# Runs every fuzz target for the given number of seconds each (default 60) and reports the
# executions. Needs cargo-fuzz and a nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
for target in $(cargo fuzz list); do
  echo "== $target ($seconds s)"
  cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" 2>&1 | grep -E '^(#[0-9]+.*DONE|Done|==[0-9]+== ERROR)' || true
done
