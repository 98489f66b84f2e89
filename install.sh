#!/usr/bin/env bash
# Install roboref on a fresh Debian/Ubuntu machine: OS libraries for headless EGL rendering,
# a virtual environment in .venv, and the package (editable) with its test tools.
set -euo pipefail
cd "$(dirname "$0")"

PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0 libglvnd0 libusb-1.0-0"
if command -v apt-get >/dev/null 2>&1; then
  missing=""
  for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing OS packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned in pyproject.toml (CPU build); installing it first keeps pip from looking
# for anything bigger.
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
echo "roboref installed in .venv ($(.venv/bin/python -c 'import roboref; print(roboref.__version__)'))"
