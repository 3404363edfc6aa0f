#!/bin/sh
# Runs the README's test command, as root, in a clean Debian 12 root: proof that
# no test depends on something the test command does not install.
#
#   scripts/fresh-check.sh            check the committed HEAD
#   scripts/fresh-check.sh --refresh  rebuild the cached clean root first
#
# The root is a minbase bookworm made by mmdebstrap from this machine's active
# apt sources and cached as .fresh-check/bookworm-minbase.tar (git-ignored);
# downloaded .debs are kept in .fresh-check/apt-archives so that reruns need
# not fetch them again (the root itself starts clean every time). Into a fresh
# copy of that root goes a `git clone` of HEAD, alone: no ../shared beside it,
# as in a new user's clone. Uncommitted changes are not part of the check.
# Needs root (for chroot and mounts) and network access to the apt sources.
# The environment inside is empty but for CK_TIMEOUT_MULTIPLIER, passed on when
# set: on a loaded machine the check tests' timeouts may need it.
# Prints "fresh-check: PASS" or "fresh-check: FAIL ..." last; exits non-zero
# on failure.
set -eu

refresh=0
for arg in "$@"; do
  case "$arg" in
    --refresh) refresh=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "fresh-check.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

fail() { echo "fresh-check: FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (chroot and mounts); run it with sudo"
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
head=$(git -C "$repo" rev-parse HEAD)
cache="$repo/.fresh-check"
tarball="$cache/bookworm-minbase.tar"
mkdir -p "$cache/apt-archives/partial"

# The README's test command, read from the README itself so the two cannot drift.
cmd=$(awk '/^Run the tests:/ { found = 1; next }
           found && /^    / { sub(/^    /, ""); print; exit }' "$repo/README.md")
[ -n "$cmd" ] || fail "no test command after 'Run the tests:' in README.md"

if ! dpkg-query -W -f='${Status}' mmdebstrap 2>/dev/null | grep -q "install ok installed"; then
  echo "fresh-check: installing mmdebstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

if [ "$refresh" -eq 1 ] || [ ! -s "$tarball" ]; then
  # The machine's active apt sources, as files mmdebstrap pastes into the root.
  sources=""
  if grep -qs '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
    sources="/etc/apt/sources.list"
  fi
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] && sources="$sources $f"
  done
  [ -n "$sources" ] || fail "no active apt sources in /etc/apt"
  echo "fresh-check: making a clean Debian 12 root from:$sources" >&2
  # shellcheck disable=SC2086 # one argument per source file
  mmdebstrap --quiet --variant=minbase bookworm "$cache/part.tar" $sources \
    || fail "mmdebstrap could not make the root"
  mv "$cache/part.tar" "$tarball"
fi

work=$(mktemp -d /tmp/fresh-check.XXXXXX)
# --one-file-system: never follow a mount that might still be in place.
trap 'rm -rf --one-file-system "$work"' EXIT INT TERM
root="$work/root"
mkdir "$root"
tar -C "$root" -xf "$tarball"
git clone -q --no-local "$repo" "$root/root/ddpmx"
git -C "$root/root/ddpmx" checkout -q --detach "$head" \
  || fail "HEAD $head is on no branch of $repo; commit it to one"
cp /etc/resolv.conf "$root/etc/resolv.conf"

echo "fresh-check: $head in a clean root; running: $cmd" >&2
start=$(date +%s)
# A private mount namespace: the mounts vanish with it, whatever happens.
{
unshare --mount --propagation private -- sh -eu -c '
  root=$1 cache=$2 cmd=$3 tm=$4
  mount --rbind /dev "$root/dev"
  mount -t proc proc "$root/proc"
  mount -t sysfs -o ro sysfs "$root/sys"
  mount --bind "$cache/apt-archives" "$root/var/cache/apt/archives"
  exec chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb ${tm:+"$tm"} \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/sh -c "cd /root/ddpmx && $cmd"
' fresh-check "$root" "$cache" "$cmd" "${CK_TIMEOUT_MULTIPLIER:+CK_TIMEOUT_MULTIPLIER=$CK_TIMEOUT_MULTIPLIER}" 2>&1 && echo 0 >"$work/rc" || echo $? >"$work/rc"
} | tee "$cache/last.log"
status=$(cat "$work/rc")
secs=$(($(date +%s) - start))

summary=$(grep -E '^[0-9]+% tests passed' "$cache/last.log" | tail -1 || true)
if [ "$status" -eq 0 ]; then
  echo "fresh-check: PASS in ${secs} s: $summary (log: $cache/last.log)"
else
  fail "after ${secs} s: ${summary:-the command did not reach the summary of ctest} (log: $cache/last.log)"
fi
