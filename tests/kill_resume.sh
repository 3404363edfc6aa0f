#!/bin/sh
# Kills a ddpmx run with SIGKILL at many random moments, resumes it with
# `ddpmx resume` each time, and checks that it ends with the metrics, sample
# grids and final weights of an uninterrupted run, bit for bit: the long form
# of the test_kill_resume ctest (which stops after a few kill points).
#
#   tests/kill_resume.sh [KILLS [STEPS [SEED]]]    (defaults: 24, 200, the time)
#
# Run it from the repository root after building into build/ (or set
# DDPMX_BUILD_DIR). It prints how many kill points passed, where each run was
# when it was killed, and the wall time.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${DDPMX_BUILD_DIR:-$root/build}" && pwd)
export DDPMX_BUILD_DIR="$build"
export DX_KILLS="${1:-24}" DX_KILL_STEPS="${2:-200}" DX_KILL_SEED="${3:-$(date +%s)}"
export CK_DEFAULT_TIMEOUT=3600
cd "$root/tests"
start=$(date +%s)
"$build/tests/test_kill_resume"
echo "kill_resume.sh: $DX_KILLS kill points asked, $DX_KILL_STEPS steps a run, seed $DX_KILL_SEED, $(( $(date +%s) - start )) s"
