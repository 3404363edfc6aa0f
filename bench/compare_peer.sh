#!/bin/sh
# ddpmx against the PyTorch peer on the same network and the same work,
# alternating runs on this machine, reported as a ratio (bench/README.md).
#
#   bench/compare_peer.sh [BUILD_DIR] [--mode train|sample] [--batch N] [--rounds N] [--threads N]
#                         [--device cpu|cuda] [--preset fmnist|cifar10] [--dim N] [--mults 1,2,4] [--size N]
#                         [--block resnet|convnext]
#                         [--tf32 on|off] [--cudnn deterministic|fastest]
#
# --preset fmnist (the default) is the Fashion-MNIST network (28x28, dim 28,
# dim_mults 1,2,4); --preset cifar10 the CIFAR-10-sized one (32x32, dim 64,
# dim_mults 1,2,2,2). --block convnext times the ConvNeXt variant in both
# programs (default resnet). Both programs build one input channel: the peer has no
# channel option, and three channels would change only the first and last
# convolution. --device cuda runs both on the GPU (the peer with
# --device cuda, ddpmx with device cuda; --threads then only sets the host
# threads; --tf32 and --cudnn go to ddpmx alone, as an experiment's cuda.tf32 and
# cuda.deterministic: the defaults are FP32 and deterministic algorithms). Needs Debian's python3-torch for the peer on the CPU
# (apt-get install python3-torch); $PYTHON names another interpreter, e.g.
# one with a CUDA build of PyTorch, and $PEER another copy of the peer.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}; [ $# -gt 0 ] && shift
mode=train batch=128 rounds=3 threads=2 steps=5 device=cpu dim=28 mults=1,2,4 size=28 block=resnet gpu=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2 ;; --batch) batch=$2 ;; --rounds) rounds=$2 ;; --threads) threads=$2 ;; --steps) steps=$2 ;;
    --device) device=$2 ;; --dim) dim=$2 ;; --mults) mults=$2 ;; --size) size=$2 ;; --block) block=$2 ;;
    --tf32|--cudnn) gpu="$gpu $1 $2" ;;
    --preset)
      case "$2" in
        fmnist) dim=28 mults=1,2,4 size=28 ;;
        cifar10) dim=64 mults=1,2,2,2 size=32 ;;
        *) echo "compare_peer.sh: unknown preset $2 (fmnist, cifar10)" >&2; exit 2 ;;
      esac ;;
    *) echo "compare_peer.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
case "$block" in resnet|convnext) ;; *) echo "compare_peer.sh: --block $block: resnet or convnext" >&2; exit 2 ;; esac
case "$device" in cpu|cuda|cuda:*) ;; *) echo "compare_peer.sh: --device $device: cpu or cuda" >&2; exit 2 ;; esac
python=${PYTHON:-/usr/bin/python3}
peer=${PEER:-$here/../../shared/bench/peer_torch_unet.py}
[ -f "$peer" ] || { echo "compare_peer.sh: $peer not found (../shared beside the checkout, or \$PEER)" >&2; exit 1; }
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
echo "mode=$mode block=$block device=$device batch=$batch size=$size dim=$dim mults=$mults threads=$threads steps=$steps rounds=$rounds${gpu:+ ddpmx:$gpu}"
net="--batch $batch --steps $steps --dim $dim --mults $mults --size $size --block $block"
ratios=""
for r in $(seq "$rounds"); do
  # shellcheck disable=SC2086 # $net is a list of options
  p=$("$python" "$peer" --mode "$mode" --threads "$threads" --device "$device" $net)
  # shellcheck disable=SC2086
  d=$(DDPMX_THREADS=$threads "$build/bench/train_step" --mode "$mode" --device "$device" $net $gpu)
  gf=$(field "$p" fwd_gflop_per_batch); mult=1; [ "$mode" = train ] && mult=3
  pt=$(field "$p" step_s_median); dt=$(field "$d" step_s_median)
  awk -v r="$r" -v pt="$pt" -v dt="$dt" -v gf="$gf" -v m="$mult" -v prss="$(field "$p" peak_rss_mb)" -v drss="$(field "$d" peak_rss_mb)" \
    'BEGIN { printf "round %d: peer %.3f s/step (%.1f GFLOP/s, %s MB)  ddpmx %.3f s/step (%.1f GFLOP/s, %s MB)  ddpmx/peer time %.2f\n", r, pt, m*gf/pt, prss, dt, m*gf/dt, drss, dt/pt }'
  ratios="$ratios $(awk -v pt="$pt" -v dt="$dt" 'BEGIN { printf "%.4f", dt/pt }')"
done
# The median of the pairwise ratios: each pair ran back to back, so a slow
# spell of the host that hits both programs cancels, and one that hits a
# single round does not decide the result.
echo "$ratios" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '
  { v[NR] = $1 }
  END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "ddpmx/peer time over %d rounds: median %.2f, range %.2f-%.2f\n", NR, m, v[1], v[NR] }'
