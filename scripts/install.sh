#!/usr/bin/env bash
# Installs everything selfreg needs on a fresh Debian/Ubuntu machine: system packages (only the
# missing ones), a virtual environment in .venv, and selfreg itself (editable).
#   scripts/install.sh          the product
#   scripts/install.sh --test   the product plus what the test suite needs
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

packages=(python3-venv xvfb xauth xdotool libmtdev1 libzbar0 libgl1 libegl1 libgl1-mesa-dri
          libegl-mesa0 libgbm1 fonts-dejavu-core)
[ "$want_test" = 1 ] && packages+=(chromium postgresql caddy systemd shellcheck)  # systemd-analyze, shellcheck: tests/deploy

# The kiosk on a till: xrandr (which monitor), xset (no blanking), xinput (deploy/map-touch.sh).
packages+=(x11-xserver-utils xinput)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
if [ "$want_test" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e ".[postgres,camera]"
fi
echo "selfreg installed in $(pwd)/.venv"
