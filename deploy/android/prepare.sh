#!/bin/sh
# Gathers what the APK carries into one folder, buildozer's source.dir (default: ./app beside
# this script): main.py, the kiosk, the bridge package the kiosk takes its settings and protocol
# from, and the assets (translations, images).  Then, on a machine that can download the Android
# SDK/NDK: cd deploy/android && buildozer android debug
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest=${1:-$here/app}
rm -rf "$dest"
mkdir -p "$dest"
cp "$here/main.py" "$dest/"
for part in kiosk cashier_bridge assets; do
    cp -R "$root/$part" "$dest/"
done
find "$dest" -name __pycache__ -type d -prune -exec rm -rf {} +
echo "prepared $dest" >&2
