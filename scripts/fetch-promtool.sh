#!/usr/bin/env bash
# Fetches promtool from Debian's prometheus package (apt-get download, no
# service installed or started) into .cache/bin, for `promtool check rules`
# in the tests. Prints the path; exits 0 without it when apt is unavailable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.cache/bin"
if [ -x "$BIN/promtool" ]; then echo "$BIN/promtool"; exit 0; fi
command -v apt-get >/dev/null || { echo "promtool: apt-get not available, skipping" >&2; exit 0; }
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
if ! apt-get download prometheus >/dev/null 2>&1; then
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get download prometheus >/dev/null 2>&1 || { echo "promtool: prometheus package not downloadable, skipping" >&2; exit 0; }
fi
dpkg-deb --fsys-tarfile prometheus_*.deb | tar -x ./usr/bin/promtool
mkdir -p "$BIN"
mv usr/bin/promtool "$BIN/promtool"
echo "$BIN/promtool"
