#!/usr/bin/env bash
# Browser tests drive Debian's Chromium (never a downloaded browser): install it
# when missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
echo "[browser] installing Debian's chromium for the browser tests" >&2
$sudo apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
  chromium fonts-dejavu-core >&2
