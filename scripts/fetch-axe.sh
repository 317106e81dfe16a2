#!/usr/bin/env bash
# Vendor axe-core (accessibility rules) for the browser tests: tests/e2e/vendor/axe.min.js, fetched once
# from the npm registry through npm itself, then kept (it is gitignored, not committed).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/tests/e2e/vendor/axe.min.js"
VERSION="${AXE_VERSION:-4}"
if [ -s "$DEST" ]; then
  exit 0
fi
mkdir -p "$(dirname "$DEST")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "axe-core@${VERSION}" >/dev/null)
tar -xzf "$WORK"/axe-core-*.tgz -C "$WORK" package/axe.min.js
mv "$WORK/package/axe.min.js" "$DEST.tmp"
mv "$DEST.tmp" "$DEST"
echo "axe-core $(head -c 200 "$DEST" | grep -o 'axe v[0-9.]*' || echo "$VERSION") -> $DEST"
