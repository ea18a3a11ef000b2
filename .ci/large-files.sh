#!/usr/bin/env bash
# Fails when a tracked file is over 1 MiB, outside schema/ and package-lock.json:
# exports, databases and bundles belong in releases or test fixtures made at test time.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((1024 * 1024))
found=0
while IFS= read -r -d '' f; do
  case "$f" in schema/*|package-lock.json) continue ;; esac
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  if [ "$size" -gt "$limit" ]; then
    echo "large tracked file: $f ($size bytes, limit $limit)" >&2
    found=1
  fi
done < <(git ls-files -z)
if [ "$found" -ne 0 ]; then
  echo "remove these files from the repository (git rm --cached) or move them out of it" >&2
  exit 1
fi
echo "== no tracked file over 1 MiB (outside schema/ and package-lock.json)"
