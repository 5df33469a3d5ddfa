#!/usr/bin/env bash
# Installs Debian's pgBackRest for the point-in-time recovery tests and bench
# (test/pitr, src/bench/pitr-bench.ts), which run a cluster of their own that
# archives through it. No-op when present. Non-interactive (CI=true, no stdin).
set -euo pipefail
if command -v pgbackrest >/dev/null 2>&1; then echo "pgbackrest: $(pgbackrest version)"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! $SUDO apt-get install -y -qq --no-install-recommends pgbackrest </dev/null >/dev/null; then
  $SUDO apt-get update -qq </dev/null
  $SUDO apt-get install -y -qq --no-install-recommends pgbackrest </dev/null >/dev/null
fi
echo "pgbackrest: $(pgbackrest version)"
