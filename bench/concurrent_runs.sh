#!/usr/bin/env bash
# Two runs sharing the machine: runs the quickstart experiment twice one after
# the other, then twice at once, and prints the wall time of each way and
# their ratio (issue 14: at most 1.25). Each run writes to its own database in
# a temporary folder, removed at the end; nothing in the tree changes.
#
#   bench/concurrent_runs.sh [--build DIR] [--steps N] [--experiment FILE] [KEY=VALUE...]
#
# --build     the build folder holding ddpmx (default: build)
# --steps     training steps per run (default: 150, the issue's figure)
# --experiment  default: experiments/quickstart.yaml
# KEY=VALUE   more overrides for every run (train.batch=16 ...)
#
# Each run picks its own thread count, as a user's run would (DDPMX_THREADS
# if set, else every CPU the process may use). A two-step run first warms
# the page cache and is not timed. The figures only mean something on an
# otherwise idle machine: the load average is printed before and after, with
# a warning when it is not low.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=build
steps=150
exp=$here/experiments/quickstart.yaml
overrides=()
while [ $# -gt 0 ]; do
  case $1 in
  --build) build=$2; shift 2 ;;
  --steps) steps=$2; shift 2 ;;
  --experiment) exp=$(cd "$(dirname "$2")" && pwd)/$(basename "$2"); shift 2 ;;
  -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *=*) overrides+=("$1"); shift ;;
  *) echo "concurrent_runs.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
case $build in /*) ;; *) build=$here/$build ;; esac
ddpmx=$build/ddpmx
[ -x "$ddpmx" ] || { echo "concurrent_runs.sh: no $ddpmx; build first (README.md)" >&2; exit 2; }

tmp=$(mktemp -d /tmp/ddpmx-concurrent.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" # a run's default results/ folder would land here, not in the tree

now() { date +%s.%N; }
load() { cut -d' ' -f1 /proc/loadavg; }
# run NAME [KEY=VALUE...]: one training run; its log and database are in $tmp.
run() {
  local name=$1
  shift
  local t0
  t0=$(now)
  if ! "$ddpmx" run "$exp" "train.steps=$steps" "${overrides[@]}" "$@" --db "$tmp/$name.db" \
    >"$tmp/$name.log" 2>&1; then
    echo "concurrent_runs.sh: run $name failed; the end of its log:" >&2
    tail -5 "$tmp/$name.log" >&2
    return 1
  fi
  echo "$t0 $(now)" >"$tmp/$name.time"
}
secs() { awk '{printf "%.1f", $2 - $1}' "$tmp/$1.time"; }
span() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f", b - a}'; }
# CPU seconds (user + system) of the children this shell has waited for, as
# the builtin `times` wrote them into file $1 (it must run in this shell, not
# in a $(...) subshell, which has no children of its own).
cpu() { awk 'NR == 2 {split($1, u, /[ms]/); split($2, s, /[ms]/);
                      printf "%.1f", u[1] * 60 + u[2] + s[1] * 60 + s[2]}' "$1"; }

cores=$(nproc)
echo "ddpmx: $("$ddpmx" --version)  ($ddpmx)"
echo "machine: $cores CPUs usable, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "threads per run: ${DDPMX_THREADS:-every usable CPU}; OMP_WAIT_POLICY=${OMP_WAIT_POLICY-unset}" \
  "GOMP_SPINCOUNT=${GOMP_SPINCOUNT-unset} (both unset: ddpmx waits passively)"
echo "experiment: $exp, train.steps=$steps ${overrides[*]}"
load0=$(load)
echo "load average before: $load0"
if awk -v l="$load0" 'BEGIN {exit !(l > 0.5)}'; then
  echo "WARNING: the machine is busy; the ratio below is only indicative. Measure again when" \
    "the load average is near 0."
fi

run warmup train.steps=2 sample.every=0 checkpoint.every=0

times >"$tmp/cpu_a"
t0=$(now)
run serial1
run serial2
t1=$(now)
times >"$tmp/cpu_b"
run parallel1 &
p1=$!
run parallel2 &
p2=$!
wait $p1
wait $p2
t2=$(now)
times >"$tmp/cpu_c"
cpu_a=$(cpu "$tmp/cpu_a")
cpu_b=$(cpu "$tmp/cpu_b")
cpu_c=$(cpu "$tmp/cpu_c")

serial=$(span "$t0" "$t1")
both=$(span "$t1" "$t2")
ratio=$(awk -v a="$both" -v b="$serial" 'BEGIN {printf "%.2f", a / b}')
echo
echo "one after the other: $(secs serial1) s + $(secs serial2) s = $serial s" \
  "($(span "$cpu_a" "$cpu_b") CPU-s)"
echo "both at once:        $(secs parallel1) s and $(secs parallel2) s, all done in $both s" \
  "($(span "$cpu_b" "$cpu_c") CPU-s)"
echo "load average after: $(load)"
echo
echo "ratio (both at once / one after the other): $ratio  (issue 14 asks for at most 1.25)"
echo "(CPU-s: user + system time of the runs. More of it at once than one after the other is"
echo "work lost to sharing: threads spinning while they wait for each other, caches refilled.)"
