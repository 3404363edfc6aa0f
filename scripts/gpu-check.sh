#!/bin/bash
# scripts/gpu-check.sh: the GPU checks of issue 13 in one run, for a session
# that is lent a GPU machine (the `device` tool). It
#   1. builds ddpmx with the CUDA module (libddpmx_cuda.so, sm 80 and 90),
#   2. runs the parity suite on the GPU (test_backend_ops --cuda: every slot
#      against the CPU backend, a U-Net step, 20 training and 10 sampling steps),
#   3. trains experiments/cosine_huber.yaml with device=cuda for STEPS steps
#      (default 300) and exports its sample grid,
#   4. times ddpmx against PyTorch on the same GPU (bench/compare_peer.sh
#      --device cuda) at batch 128, Fashion-MNIST-sized and CIFAR-10-sized,
#      training and sampling.
# Everything it prints also goes to $OUT/gpu-check.log (the grid to
# $OUT/grid.png) when $OUT is set, as it is on the device machine; the log is
# written as it goes, so a run cut short still returns what it did.
#
# The device machine has nvcc, the CUDA libraries, CMake and PyTorch
# (python3), with cuDNN as PyTorch's pip package, but nothing can be fetched
# there and it lacks the -dev packages ddpmx builds against. So, HERE, once,
# in the root of the checkout that the device tool sends:
#
#   scripts/gpu-check.sh --prepare
#
# (it downloads the Debian 12 .debs below into .gpucheck/debs, copies the
# peer and Fashion-MNIST beside them, and makes git ignore .gpucheck/), then
# call the device tool's `run` with carry [".gpucheck"], timeout_s 590 and
# the command `bash scripts/gpu-check.sh`. PHASES="build parity" (any of
# build parity train bench, in that order) runs part of it; STEPS=100
# shortens phase 3, ROUNDS=2 phase 4. A phase that no longer fits in the
# command's 600 s is skipped with a line naming the PHASES to run next: call
# again at once, while the machine is still warm (30 s), and build-gpu/ is
# still there. On the device machine the script unpacks the .debs with
# `dpkg -x` into .gpucheck/prefix (never into /) and builds against that
# prefix alone.
#
#   scripts/gpu-check.sh --configure-only
#
# does the unpacking and the CMake configure against the prefix and stops: it
# runs anywhere, with or without a GPU, and is how this script's own
# machinery is tested without one.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
gc=$root/.gpucheck
mode=run
case "${1:-}" in
  --prepare) mode=prepare ;;
  --configure-only) mode=configure ;;
  "") ;;
  *) echo "usage: scripts/gpu-check.sh [--prepare | --configure-only]" >&2; exit 2 ;;
esac

# The packages ddpmx builds and tests against, with the runtime libraries
# they need that a CUDA image may lack (OpenBLAS needs libgfortran).
debs="libyaml-0-2 libyaml-dev libsqlite3-0 libsqlite3-dev check libsubunit0 libsubunit-dev
  libopenblas0-openmp libopenblas-openmp-dev libopenblas-dev libgfortran5 libquadmath0
  libpng16-16 libpng-dev zlib1g zlib1g-dev pkgconf pkgconf-bin libpkgconf3"

if [ "$mode" = prepare ]; then
  mkdir -p "$gc/debs"
  exclude=$(git rev-parse --git-path info/exclude)
  grep -qx '/.gpucheck/' "$exclude" 2>/dev/null || echo '/.gpucheck/' >>"$exclude"
  # The device machine is x86-64: on another machine, fetch amd64 packages
  # through a package list of their own.
  apt=(apt-get)
  if [ "$(dpkg --print-architecture)" != amd64 ]; then
    mkdir -p /tmp/gpucheck-amd64/partial
    apt=(apt-get -oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/gpucheck-amd64)
    "${apt[@]}" update >/dev/null || { echo "gpu-check: apt-get update (amd64) failed" >&2; exit 1; }
  fi
  # shellcheck disable=SC2086 # $debs is a list of names
  (cd "$gc/debs" && "${apt[@]}" download $debs) || { echo "gpu-check: apt-get download failed" >&2; exit 1; }
  peer=${PEER:-$root/../shared/bench/peer_torch_unet.py}
  [ -f "$peer" ] && cp "$peer" "$gc/" || echo "gpu-check: no peer at $peer (set PEER): phase 4 will fail" >&2
  data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
  [ -d "$data" ] && cp -r "$data" "$gc/fashion-mnist" || echo "gpu-check: no Fashion-MNIST at $data: phase 3 will fail" >&2
  echo "gpu-check: prepared $(du -sh "$gc" | cut -f1) in .gpucheck ($(ls "$gc"/debs/*.deb | wc -l) packages)."
  echo "Next: device run, carry [\".gpucheck\"], timeout_s 590, command: bash scripts/gpu-check.sh"
  exit 0
fi

out=${OUT:-$gc/out}
mkdir -p "$out"
log=$out/gpu-check.log
: >"$log"
steps=${STEPS:-300}
phases=${PHASES:-build parity train bench}
# The device tool stops a command at 600 s: each phase gets what is left of
# BUDGET seconds (default 570) and a phase that would start with too little
# is skipped with a line that says how to run it again.
budget=${BUDGET:-570}
t0=$(date +%s)
left() { echo $((budget - ($(date +%s) - t0))); }
say() { echo "== $*" | tee -a "$log"; }
run() { "$@" 2>&1 | tee -a "$log"; }
has_phase() { case " $phases " in *" $1 "*) return 0 ;; esac; return 1; }
# limit NEED CAP: seconds a phase may take (CAP at most), or nothing when
# fewer than NEED are left
limit() {
  local l
  l=$(($(left) - 10))
  [ "$l" -ge "$1" ] || return 1
  echo $((l < $2 ? l : $2))
}
skipped() { say "SKIPPED (out of time, $(left) s left): $1; run it again with PHASES=\"$2\""; status=1; }

# --- dependencies: the carried .debs, unpacked into a prefix of their own -------------------
prefix=$gc/prefix
blas=()
if [ -d "$gc/debs" ]; then
  if [ ! -f "$prefix/.unpacked" ]; then
    say "unpacking $(ls "$gc"/debs/*.deb | wc -l) .deb files into $prefix"
    rm -rf "$prefix" && mkdir -p "$prefix"
    for f in "$gc"/debs/*.deb; do dpkg -x "$f" "$prefix" || { say "FAILED: dpkg -x $f"; exit 1; }; done
    # The .pc files name /usr: point them into the prefix.
    find "$prefix" -name '*.pc' -exec sed -i -E "s#^([A-Za-z_]+)=/usr#\\1=$prefix/usr#" {} +
    touch "$prefix/.unpacked"
  fi
  multi=$prefix/usr/lib/x86_64-linux-gnu
  export PATH="$prefix/usr/bin:$PATH"
  # LIBDIR, not PATH: only the prefix's .pc files count, never a half
  # installed set on the machine.
  export PKG_CONFIG_LIBDIR="$multi/pkgconfig:$prefix/usr/share/pkgconfig"
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$multi:$multi/openblas-openmp${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LIBRARY_PATH="$multi${LIBRARY_PATH:+:$LIBRARY_PATH}"
  # dpkg -x runs no postinst, so Debian's alternatives link libopenblas.so is missing
  blas=(-DOPENBLAS_LIBRARY="$multi/openblas-openmp/libopenblas.so"
    -DOPENBLAS_INCLUDE_DIR="$prefix/usr/include/x86_64-linux-gnu/openblas-openmp")
  command -v pkg-config >/dev/null || { say "FAILED: no pkg-config after unpacking pkgconf"; exit 1; }
fi

# cuDNN: beside the toolkit, else PyTorch's pip package. The wheel has only
# libcudnn.so.9, no libcudnn.so to link with: give CMake a folder that does.
if [ -z "${CUDNN_ROOT:-}" ] && [ ! -e /usr/local/cuda/include/cudnn.h ]; then
  pip_cudnn=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  if [ -n "$pip_cudnn" ] && [ -d "$pip_cudnn/lib" ]; then
    shim=$gc/cudnn
    mkdir -p "$shim/lib"
    ln -sfn "$pip_cudnn/include" "$shim/include"
    so=$(ls "$pip_cudnn"/lib/libcudnn.so* 2>/dev/null | head -1)
    [ -n "$so" ] && ln -sf "$so" "$shim/lib/libcudnn.so"
    export CUDNN_ROOT=$shim
    export LD_LIBRARY_PATH="$pip_cudnn/lib:${LD_LIBRARY_PATH:-}"
    say "cuDNN from PyTorch's package: $pip_cudnn"
  fi
fi
# cuBLAS likewise, when the toolkit has none (its pip package)
if [ ! -e /usr/local/cuda/lib64/libcublas.so ] && [ ! -e /usr/local/cuda/lib/libcublas.so ]; then
  pip_cublas=$(python3 -c 'import nvidia.cublas as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  [ -n "$pip_cublas" ] && export LD_LIBRARY_PATH="$pip_cublas/lib:${LD_LIBRARY_PATH:-}" &&
    say "note: no libcublas.so in /usr/local/cuda; PyTorch's is at $pip_cublas/lib"
fi

say "machine: $(uname -m), $(nproc) cores; cmake $(cmake --version | head -1 | awk '{print $3}'); cc: $(command -v cc || echo none); nvcc: $(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || echo none)"
run nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || say "nvidia-smi: no GPU seen"

# --- 1. build ------------------------------------------------------------------------------
configure() {
  local cuda_args=()
  [ -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null &&
    cuda_args=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
  run cmake -S . -B build-gpu -DCMAKE_BUILD_TYPE=Release -DDDPMX_BUILD_BENCH=ON -DDDPMX_NATIVE=OFF \
    "${blas[@]}" "${cuda_args[@]}"
}
if [ "$mode" = configure ]; then
  say "configure against $prefix"
  configure || { say "FAILED: cmake configure"; exit 1; }
  # where each library was found: all of them under the prefix, but cuDNN
  sed -n -E 's/^(pkgcfg_lib_[A-Z0-9]+_[a-z0-9_]+|OPENBLAS_LIBRARY|CUDNN_LIBRARY):FILEPATH=/\1 = /p' \
    build-gpu/CMakeCache.txt | tee -a "$log"
  exit 0
fi

status=0
if has_phase build; then
  say "1. build (CUDA module for sm 80;90)"
  start=$(date +%s)
  configure && run cmake --build build-gpu -j"$(nproc)" || { say "FAILED: the build"; exit 1; }
  say "build took $(($(date +%s) - start)) s"
fi
[ -f build-gpu/core/backend/cuda/libddpmx_cuda.so ] || { say "FAILED: libddpmx_cuda.so was not built (see the configure lines above)"; exit 1; }

# --- 2. parity suite --------------------------------------------------------------------------
if has_phase parity; then
  if lim=$(limit 60 300); then
    say "2. parity suite: test_backend_ops --cuda"
    (cd tests && DDPMX_PLUGIN_DIR=$root/build-gpu/plugins timeout "$lim" \
      ../build-gpu/tests/test_backend_ops --cuda) 2>&1 | tee -a "$log" || status=1
  else
    skipped "the parity suite" "parity train bench"
  fi
fi

# --- 3. cosine_huber on the GPU ---------------------------------------------------------------
if has_phase train && ! lim=$(limit 90 300); then
  skipped "cosine_huber" "train bench"
elif has_phase train; then
  say "3. cosine_huber device=cuda, $steps steps"
  data=()
  [ -d "$gc/fashion-mnist" ] && data=(data.path="$gc/fashion-mnist")
  db=$out/gpu-check.db
  rm -f "$db"
  start=$(date +%s)
  run timeout "$lim" ./build-gpu/ddpmx run experiments/cosine_huber.yaml device=cuda train.steps="$steps" \
    sample.every="$steps" eval.every="$steps" checkpoint.every="$steps" \
    checkpoint.dir="$gc/checkpoints" "${data[@]}" --db "$db" || status=1
  say "training took $(($(date +%s) - start)) s"
  run ./build-gpu/ddpmx show 1 --db "$db" || status=1
  run ./build-gpu/ddpmx export 1 -o "$out/grid.png" --db "$db" || status=1
fi

# --- 4. against PyTorch on the same GPU -------------------------------------------------------
if has_phase bench; then
  for preset in fmnist cifar10; do
    for m in train sample; do
      if ! lim=$(limit 45 150); then
        skipped "compare_peer $preset $m" "bench"
        continue
      fi
      say "4. ddpmx vs PyTorch, $preset, $m, batch 128"
      PYTHON=python3 PEER="$gc/peer_torch_unet.py" run timeout "$lim" bash bench/compare_peer.sh build-gpu \
        --device cuda --preset "$preset" --mode "$m" --batch 128 --rounds "${ROUNDS:-3}" || status=1
    done
  done
fi
say "done in $(($(date +%s) - t0)) s: status $status"
exit $status
