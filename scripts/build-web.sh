#!/usr/bin/env bash
# Build the operators' console (clients/web, Vite) into clients/web/dist: install
# Debian's Node.js and npm when missing, check that this Node.js can run Vite, install
# the front-end packages from the committed package-lock.json when it changed, then
# build when a source is newer than the build.
set -euo pipefail
cd "$(dirname "$0")/../clients/web"

# Vite 8's "engines": ^20.19.0 || >=22.12.0 (older ones fail later, and obscurely).
NODE_MIN_20="20.19.0"
NODE_MIN_22="22.12.0"

# Whether dotted version $1 >= $2.
version_ge() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

node_fits() {
  local version="$1" major="${1%%.*}"
  if [ "$major" -eq 20 ]; then version_ge "$version" "$NODE_MIN_20"; else version_ge "$version" "$NODE_MIN_22"; fi
}

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "[web] installing Debian's nodejs and npm" >&2
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends nodejs npm >&2
fi
node_version="$(node --version)"
node_version="${node_version#v}"
if ! node_fits "$node_version"; then
  cat >&2 <<EOF
[web] Node.js $node_version ($(command -v node)) is too old for Vite 8, which builds the
[web] console: it needs Node.js $NODE_MIN_20 or later in the 20 line, or $NODE_MIN_22 or later.
[web] Debian 12 (bookworm) ships Node.js 18; Debian 13 (trixie) ships 20.19. Install a
[web] Node.js that fits (your distribution's newer package, or a build from nodejs.org),
[web] put it first on PATH, and run 'make web' again.
EOF
  exit 1
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[web] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
if [ ! -f dist/index.html ] || [ -n "$(find console vite.config.js package-lock.json -newer dist/index.html -print -quit)" ]; then
  echo "[web] building the console" >&2
  npx --no-install vite build --logLevel warn >&2
fi
