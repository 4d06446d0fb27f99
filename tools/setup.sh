#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks for this project, then its npm dependencies
# (which bring Node.js 24 from the npm registry: no system Node upgrade needed).
#   bash tools/setup.sh          # for the demo: redis-server, nginx, postgresql (the catalogue's database)
#   bash tools/setup.sh --test   # for the tests too: chromium for the end-to-end suite, wrk for the benchmark,
#                                # prometheus (and its promtool) for the alert rules and the live metrics test,
#                                # prometheus-redis-exporter for the same test (npm start -- --with-prometheus),
#                                # a Docker engine (docker.io, unless one is installed) and debootstrap for the
#                                # compose test (tools/compose: its stand-in images are built from a debootstrapped base),
#                                # age for npm run backup / restore and their restore drill (tools/backup), memcached for
#                                # the catalogue cache on memcached (npm start -- --cache memcached, its tests and chaos)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server nginx postgresql)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium wrk prometheus prometheus-redis-exporter debootstrap age memcached)
  command -v dockerd >/dev/null || packages+=(docker.io)
fi
# check:infra also needs kubectl >= 1.27 (kustomize v5) for infra/k8s. It is not installed from here: Debian 12's
# kubernetes-client is 1.20 (kustomize v2, which cannot build the overlays). The machines this project's CI runs on
# have kubectl 1.32 from the Google Cloud SDK; elsewhere install it from https://pkgs.k8s.io. check:infra names the
# version it found and what to do when it is missing or too old.

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ! command -v npm >/dev/null; then missing+=(nodejs npm); fi

if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian starts its own redis-server and nginx services on install; the project runs its own
# on other ports (6380, 8080) and never needs them, so they are left as they are.

# npm runs under the system's Node (Debian 12: 20), older than what most dependencies ask for: each would print an
# EBADENGINE warning although nothing runs on that Node (the project runs on the Node 24 this installs). Warnings are
# left out for this one command; errors still show.
npm ci --no-audit --no-fund --loglevel=error
echo "Node for this project: $(node_modules/.bin/node --version)"
