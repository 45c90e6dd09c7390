#!/usr/bin/env bash
# Installs uv into .var/bootstrap when no uv is on PATH, from PyPI (the only place
# these machines can download from), and prints the path of the uv to use.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
target=.var/bootstrap
if [ ! -x "$target/bin/uv" ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "[bootstrap] installing python3 and python3-venv" >&2
    $sudo apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q python3 python3-venv >&2
  fi
  echo "[bootstrap] installing uv into $target" >&2
  python3 -m venv "$target" >&2
  "$target/bin/pip" install -q uv >&2
fi
echo "$PWD/$target/bin/uv"
