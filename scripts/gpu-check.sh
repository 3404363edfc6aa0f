#!/bin/bash
# scripts/gpu-check.sh: the GPU checks of issue 13, in one run, for a session
# that is lent a GPU machine (the `device` tool). It
#   1. builds ddpmx with the CUDA module (libddpmx_cuda.so),
#   2. runs the parity suite on the GPU (test_backend_ops --cuda: every slot
#      against the CPU backend, a U-Net step, 20 training and 10 sampling steps),
#   3. trains experiments/cosine_huber.yaml with device=cuda for STEPS steps
#      (default 300) and exports its sample grid,
#   4. times ddpmx against PyTorch on the same GPU (bench/compare_peer.sh
#      --device cuda) at batch 128, Fashion-MNIST-sized and CIFAR-10-sized.
# Everything it prints also goes to $OUT/gpu-check.log (and the grid to
# $OUT/grid.png) when $OUT is set, as it is on the device machine.
#
# The device machine has nvcc 13, cuBLAS, PyTorch (python3) and cuDNN as the
# pip package nvidia-cudnn-cu13, but nothing can be fetched there, and it may
# lack the -dev packages ddpmx builds against (libyaml, SQLite, check,
# OpenBLAS, libpng, zlib, pkg-config). Prepare them HERE, once, in the root
# of the checkout that the device tool sends (a Debian 12 machine with apt):
#
#   echo /.gpucheck/ >> .git/info/exclude
#   mkdir -p .gpucheck/debs && (cd .gpucheck/debs && apt-get download \
#     libyaml-0-2 libyaml-dev libsqlite3-0 libsqlite3-dev check libsubunit0 \
#     libsubunit-dev libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev \
#     libpng16-16 libpng-dev zlib1g-dev pkgconf pkgconf-bin libpkgconf3)
#   cp ../shared/bench/peer_torch_unet.py .gpucheck/      # ../shared does not travel
#   cp -r /usr/share/datasets/fashion-mnist .gpucheck/    # 30 MB; the dataset for step 3
#
# then call the device tool's `run` with carry [".gpucheck"], a timeout_s of
# 600 and the command `bash scripts/gpu-check.sh` (the whole lease is 15
# minutes: the build takes a few of them; STEPS=100 shortens step 3). The
# script unpacks the .deb files with `dpkg -x` into .gpucheck/prefix (never
# into /), points pkg-config, CMAKE_PREFIX_PATH and LD_LIBRARY_PATH at it, and
# finds cuDNN in the pip package through CUDNN_ROOT.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
gc=$root/.gpucheck
out=${OUT:-$gc/out}
mkdir -p "$out"
log=$out/gpu-check.log
steps=${STEPS:-300}
say() { echo "== $*" | tee -a "$log"; }
run() { "$@" 2>&1 | tee -a "$log"; }

# --- dependencies from the carried .deb files ------------------------------------
prefix=$gc/prefix
if [ -d "$gc/debs" ] && ! pkg-config --exists yaml-0.1 sqlite3 check 2>/dev/null; then
  say "unpacking $(ls "$gc"/debs/*.deb | wc -l) .deb files into $prefix"
  mkdir -p "$prefix"
  for f in "$gc"/debs/*.deb; do dpkg -x "$f" "$prefix"; done
  # the .pc files say prefix=/usr; make them point into the unpacked tree
  find "$prefix" -name '*.pc' -exec sed -i "s|^prefix=/usr|prefix=$prefix/usr|" {} +
  multi=$prefix/usr/lib/x86_64-linux-gnu
  export PATH="$prefix/usr/bin:$PATH"
  export PKG_CONFIG_PATH="$multi/pkgconfig:$prefix/usr/share/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$multi:$multi/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # dpkg -x runs no postinst, so Debian's alternatives link libopenblas.so is missing
  blas="-DOPENBLAS_LIBRARY=$multi/openblas-openmp/libopenblas.so -DOPENBLAS_INCLUDE_DIR=$prefix/usr/include/x86_64-linux-gnu/openblas-openmp"
else
  blas=""
fi
# cuDNN: beside the toolkit, else PyTorch's pip package
if [ -z "${CUDNN_ROOT:-}" ] && [ ! -e /usr/local/cuda/include/cudnn.h ]; then
  CUDNN_ROOT=$(python3 -c 'import os, nvidia.cudnn as m; print(os.path.dirname(m.__file__))' 2>/dev/null || true)
  [ -n "$CUDNN_ROOT" ] && export CUDNN_ROOT && export LD_LIBRARY_PATH="$CUDNN_ROOT/lib:${LD_LIBRARY_PATH:-}"
fi
run nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true

# --- 1. build --------------------------------------------------------------------------
say "build (CUDA module for sm 80;90)"
start=$(date +%s)
# shellcheck disable=SC2086 # $blas is a list of options
run cmake -S . -B build-gpu -DDDPMX_BUILD_BENCH=ON -DDDPMX_NATIVE=OFF $blas
run cmake --build build-gpu -j"$(nproc)"
say "build took $(($(date +%s) - start)) s"
[ -f build-gpu/core/backend/cuda/libddpmx_cuda.so ] || { say "FAILED: libddpmx_cuda.so was not built"; exit 1; }

# --- 2. parity suite ---------------------------------------------------------------------
say "parity suite: test_backend_ops --cuda"
status=0
(cd tests && DDPMX_PLUGIN_DIR=$root/build-gpu/plugins CK_DEFAULT_TIMEOUT=600 \
  ../build-gpu/tests/test_backend_ops --cuda) 2>&1 | tee -a "$log" || status=1

# --- 3. cosine_huber on the GPU ------------------------------------------------------
say "cosine_huber device=cuda, $steps steps"
data=""
[ -d "$gc/fashion-mnist" ] && data="data.path=$gc/fashion-mnist"
db=$out/gpu-check.db
# shellcheck disable=SC2086 # $data is one override or nothing
run ./build-gpu/ddpmx run experiments/cosine_huber.yaml device=cuda train.steps="$steps" \
  sample.every="$steps" eval.every="$steps" checkpoint.every="$steps" \
  checkpoint.dir="$gc/checkpoints" $data --db "$db" || status=1
run ./build-gpu/ddpmx export cosine_huber -o "$out/grid.png" --db "$db" || status=1

# --- 4. against PyTorch on the same GPU ----------------------------------------------
for preset in fmnist cifar10; do
  for mode in train sample; do
    say "ddpmx vs PyTorch, $preset, $mode, batch 128"
    PYTHON=python3 PEER="$gc/peer_torch_unet.py" run bash bench/compare_peer.sh build-gpu \
      --device cuda --preset "$preset" --mode "$mode" --batch 128 --rounds 3 || status=1
  done
done
say "done: status $status"
exit $status
