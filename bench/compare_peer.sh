#!/bin/sh
# ddpmx against the PyTorch peer on the same network and the same work,
# alternating runs on this machine, reported as a ratio (bench/README.md).
#
#   bench/compare_peer.sh [BUILD_DIR] [--mode train|sample] [--batch N] [--rounds N] [--threads N]
#
# Needs Debian's python3-torch for the peer (apt-get install python3-torch).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}; [ $# -gt 0 ] && shift
mode=train batch=128 rounds=3 threads=2 steps=5
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2 ;; --batch) batch=$2 ;; --rounds) rounds=$2 ;; --threads) threads=$2 ;; --steps) steps=$2 ;;
    *) echo "compare_peer.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
peer=$here/../../shared/bench/peer_torch_unet.py
[ -f "$peer" ] || { echo "compare_peer.sh: $peer not found (../shared beside the checkout)" >&2; exit 1; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "mode=$mode batch=$batch threads=$threads steps=$steps rounds=$rounds"
for r in $(seq "$rounds"); do
  p=$(/usr/bin/python3 "$peer" --mode "$mode" --batch "$batch" --threads "$threads" --steps "$steps")
  d=$(DDPMX_THREADS=$threads "$build/bench/train_step" --mode "$mode" --batch "$batch" --steps "$steps")
  gf=$(field "$p" fwd_gflop_per_batch); mult=1; [ "$mode" = train ] && mult=3
  pt=$(field "$p" step_s_median); dt=$(field "$d" step_s_median)
  awk -v r="$r" -v pt="$pt" -v dt="$dt" -v gf="$gf" -v m="$mult" -v prss="$(field "$p" peak_rss_mb)" -v drss="$(field "$d" peak_rss_mb)" \
    'BEGIN { printf "round %d: peer %.3f s/step (%.1f GFLOP/s, %s MB)  ddpmx %.3f s/step (%.1f GFLOP/s, %s MB)  ddpmx/peer time %.2f\n", r, pt, m*gf/pt, prss, dt, m*gf/dt, drss, dt/pt }'
done
