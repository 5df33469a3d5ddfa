#!/usr/bin/env bash
# Installs Debian's Chromium for the browser test (test/web/console.test.ts),
# which drives /usr/bin/chromium with playwright-core. No-op when present.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if ! $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "chromium: $(/usr/bin/chromium --version)"
