#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz, clang, ASan + UBSan) and runs
# each for a bounded time.
#
#   scripts/fuzz.sh SECONDS [HARNESS...]   default: every harness, one after another
#
# Harnesses: yaml idx cifar png_folder png json safetensors store. The build is
# build-fuzz/ (git-ignored, kept between runs); the corpus each run grows is
# build-fuzz/fuzz/corpus/HARNESS/, seeded from tests/fuzz/make_inputs.py (and,
# for the store, a database written by a tiny ddpmx run). A crasher is saved
# as build-fuzz/fuzz/crashes/HARNESS/crash-*; keep it, once fixed, under
# tests/fuzz/regressions/HARNESS/ (see tests/fuzz/README.md). Prints one line
# per harness with its executions, and exits non-zero if any harness failed.
set -eu

all="yaml idx cifar png_folder png json safetensors store"
[ $# -ge 1 ] || { sed -n '2,13p' "$0"; exit 2; }
case "$1" in
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
  ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$1' (try --help)" >&2; exit 2 ;;
esac
secs=$1
shift
harnesses=${*:-$all}
for h in $harnesses; do
  case " $all " in *" $h "*) ;; *) echo "fuzz.sh: no harness '$h' (one of: $all)" >&2; exit 2 ;; esac
done
cd "$(dirname "$0")/.."

# clang, its libFuzzer/sanitizer runtimes and its OpenMP: installed when missing.
./scripts/install-deps.sh --fuzz

b=build-fuzz
CC=clang cmake -S . -B "$b" -DDDPMX_FUZZ=ON -DDDPMX_BUILD_TESTS=OFF -DDDPMX_BUILD_BENCH=OFF >/dev/null
# Everything: the harnesses, and ddpmx with its plugins for the store's seed.
cmake --build "$b" -j2 >"$b/build.log" 2>&1 ||
  { cat "$b/build.log" >&2; echo "fuzz.sh: FAIL: the build failed" >&2; exit 1; }

# Seeds: made fresh by each invocation (cheap; two may run at once); the
# corpus beside them is kept.
seeds="$b/fuzz/seeds.$$"
trap 'rm -rf "$seeds"' EXIT INT TERM
python3 tests/fuzz/make_inputs.py seeds "$seeds"
ASAN_OPTIONS=detect_leaks=0 "$b/ddpmx" run tests/data/cli/tiny.yaml data.path=tests/data/cli/images \
  --db "$seeds/store/run.db" >"$seeds/seed-run.log" 2>&1 ||
  { cat "$seeds/seed-run.log" >&2; echo "fuzz.sh: FAIL: the seed run failed" >&2; exit 1; }
rm -f "$seeds/store/run.db-wal" "$seeds/store/run.db-shm" "$seeds/seed-run.log"

failed=""
for h in $harnesses; do
  corpus="$b/fuzz/corpus/$h" crashes="$b/fuzz/crashes/$h" log="$b/fuzz/$h.log"
  mkdir -p "$corpus" "$crashes"
  # -malloc_limit_mb: one allocation over 1 GiB is a finding (sizes are
  # checked before allocating); -timeout: one input over 20 s is a hang.
  status=0
  "$b/tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$crashes/" \
    "$corpus" "$seeds/$h" </dev/null >"$log" 2>&1 || status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  found=$(find "$crashes" -type f | wc -l)
  if [ "$status" -eq 0 ] && [ "$found" -eq 0 ]; then
    echo "fuzz.sh: $h: ${execs:-?} executions in $secs s, no findings"
  else
    echo "fuzz.sh: $h: FAIL (exit $status) after ${execs:-?} executions; $found input(s) in $crashes; log $log"
    grep -m3 -E "ERROR:|runtime error|refused .* without" "$log" | sed 's/^/    /' || true
    failed="$failed $h"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz.sh: FAIL:$failed"
  exit 1
fi
echo "fuzz.sh: PASS: $harnesses"
