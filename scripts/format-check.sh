#!/bin/sh
# Fails when a C, header, kernel-template or CUDA file under core/, plugins/,
# tests/ or bench/ differs from what clang-format (the repository's
# .clang-format) would write. With --fix, formats them in place instead.
#
#   scripts/format-check.sh          check (CI runs this)
#   scripts/format-check.sh --fix    rewrite the files
set -eu
cd "$(dirname "$0")/.."

./scripts/install-deps.sh --format

files=$(git ls-files -- 'core/*' 'plugins/*' 'tests/*' 'bench/*' |
  grep -E '\.(c|h|inc|cu|cuh)$')
case "${1:-}" in
  --fix) echo "$files" | xargs clang-format -i ;;
  "")
    if ! echo "$files" | xargs clang-format --dry-run -Werror; then
      echo "format-check.sh: the files above are not formatted; run scripts/format-check.sh --fix" >&2
      exit 1
    fi
    echo "format-check.sh: $(echo "$files" | wc -l) files formatted"
    ;;
  *) echo "format-check.sh: unknown option '$1' (try --fix)" >&2; exit 2 ;;
esac
