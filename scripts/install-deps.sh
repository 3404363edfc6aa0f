#!/bin/sh
# Installs what ddpmx needs to build and test, from Debian 12 packages.
# Idempotent and quiet: packages already present are not touched, and apt is
# not run at all when nothing is missing.
#
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --run    also the default dataset (Fashion-MNIST) and the sqlite3 shell
#   scripts/install-deps.sh --fuzz   also clang and its libFuzzer/sanitizer runtimes (scripts/fuzz.sh)
#   scripts/install-deps.sh --format also clang-format (scripts/format-check.sh)
set -eu

pkgs="build-essential cmake pkg-config libyaml-dev libsqlite3-dev check libsubunit-dev
      libopenblas-openmp-dev zlib1g-dev libpng-dev python3
      libopenmpi-dev openmpi-bin"
for arg in "$@"; do
  case "$arg" in
    --run) pkgs="$pkgs dataset-fashion-mnist sqlite3" ;;
    --fuzz) pkgs="$pkgs clang libclang-rt-14-dev libomp-dev" ;;
    --format) pkgs="$pkgs clang-format" ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps.sh: need root to install:$missing" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
