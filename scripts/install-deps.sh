#!/usr/bin/env bash
# Installs what swarmboot needs on a fresh Debian/Ubuntu machine, skipping what is there:
# nats-server and redis-server (Debian packages; the tests and `swarmboot up` start them),
# the network test tools, and the npm dependencies. Needs root (or sudo) for apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=()
command -v nats-server >/dev/null || pkgs+=(nats-server)
command -v redis-server >/dev/null || pkgs+=(redis-server)
command -v debootstrap >/dev/null || pkgs+=(debootstrap)
command -v tar >/dev/null || pkgs+=(tar)
if [ ${#pkgs[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "install-deps: apt-get install ${pkgs[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >&2
  $sudo apt-get install -y -q "${pkgs[@]}" >&2
fi
# npm ci when node_modules is missing or older than the lock file
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi
