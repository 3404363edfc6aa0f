#!/bin/sh
# Data-parallel scaling on one machine (docs/distributed.md): the default
# experiment (experiments/cosine_huber.yaml, batch 64) trained for STEPS steps
# as 1 rank x 2 threads and as 2 ranks x 1 thread, REPS times each. Prints
# steps/s over the steps after the first report (warm-up excluded) and, for
# 2 ranks, rank 0's milliseconds per step inside the gradient all-reduce.
#
#   bench/mpi_scaling.sh [BUILD_DIR] [STEPS] [REPS]
set -eu
build=${1:-build}
steps=${2:-12}
reps=${3:-3}
out=$(mktemp -d /tmp/ddpmx-mpi-bench-XXXXXX)
trap 'rm -rf "$out"' EXIT
common="experiments/cosine_huber.yaml train.steps=$steps log.every=4 sample.every=0 eval.every=0 checkpoint.every=0 checkpoint.dir=$out/ckpt"
mpi="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader"

# rate DB: mean steps/s and all-reduce ms/step over the reports after the first
rate() {
  sqlite3 "$1" "select printf('%.3f', avg(value) / 64.0) from metrics where name = 'images_per_s' and step > 4"
}
allreduce() {
  sqlite3 "$1" "select coalesce(printf('%.1f', avg(value)), '-') from metrics where name = 'allreduce_ms' and step > 4"
}

printf 'config            rep  steps/s  allreduce_ms/step\n'
for r in $(seq 1 "$reps"); do
  DDPMX_THREADS=2 "$build/ddpmx" run $common train.threads=2 --db "$out/one-$r.db" 2>/dev/null
  printf '1 rank x 2 thr    %3d  %7s  %s\n' "$r" "$(rate "$out/one-$r.db")" -
  DDPMX_THREADS=1 $mpi -np 2 -x DDPMX_THREADS "$build/ddpmx" run $common train.threads=1 --db "$out/two-$r.db" 2>/dev/null
  printf '2 ranks x 1 thr   %3d  %7s  %s\n' "$r" "$(rate "$out/two-$r.db")" "$(allreduce "$out/two-$r.db")"
done
