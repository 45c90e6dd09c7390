#!/usr/bin/env bash
# Build the operators' console (clients/web, Vite) into clients/web/dist: install
# Debian's Node.js and npm when missing, the front-end packages from the committed
# package-lock.json when it changed, then build when a source is newer than the build.
set -euo pipefail
cd "$(dirname "$0")/../clients/web"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "[web] installing Debian's nodejs and npm" >&2
  $sudo apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends nodejs npm >&2
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[web] npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi
if [ ! -f dist/index.html ] || [ -n "$(find console vite.config.js package-lock.json -newer dist/index.html -print -quit)" ]; then
  echo "[web] building the console" >&2
  npx --no-install vite build --logLevel warn >&2
fi
