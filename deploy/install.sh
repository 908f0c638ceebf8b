#!/usr/bin/env bash
# Installs selfreg on a till (fresh Debian/Ubuntu with systemd), or upgrades it in place.
#
#   sudo ./deploy/install.sh [--lane NAME] [--display MONITOR]
#                                                          bridge and kiosk on this till (MONITOR:
#                                                          the customer screen, xrandr --listmonitors)
#   sudo ./deploy/install.sh --bridge-only                 the bridge alone (a shop's server)
#   sudo ./deploy/install.sh --kiosk-only --bridge ws://HOST:8765 --lane NAME [--pair-code TOKEN]
#                                                          a kiosk whose bridge is elsewhere
# Options: --no-start (install, start nothing), --python PYTHON (the interpreter for the venv).
#
# What it makes: the users selfreg and selfreg-kiosk (systemd-sysusers), a release under
# /opt/selfreg/releases/<version>-<UTC time> with its own venv, /opt/selfreg/current pointing at
# it, /etc/selfreg/selfreg.toml (the bridge's) and /etc/selfreg/kiosk.toml (the kiosk's), the
# systemd units of deploy/systemd, and /var/lib/selfreg (the registry). Run again, it upgrades:
# the new release is built beside the running one, the registry is migrated with the new code
# (SQLite: a copy is taken first and put back if the migration fails), and only then does
# `current` move; a failure leaves the old release current and running. Config files are never
# overwritten.
#
# DESTDIR=/some/dir installs into that directory as if it were / (tests, image builds): users go
# to DESTDIR/etc/passwd, commands run as the caller, and apt and systemctl are not called
# (SELFREG_SYSTEMCTL=PROGRAM: a stand-in for systemctl, for tests of the upgrade's order).
# Test hook: SELFREG_SITE_PACKAGES=DIR makes the new venv see the packages in DIR (a .pth
# file), so that with PIP_NO_DEPS=1 a test builds a release in seconds without downloading
# the dependencies.
set -euo pipefail
umask 022  # the services' users read the releases, whatever root's own umask is

src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${DESTDIR:-}
root=${root%/}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "install.sh: $*" >&2; exit 2; }

bridge_url="" lane="" display="" mode=both pair_code="" no_start=0 python=${PYTHON:-python3}
while [ $# -gt 0 ]; do
  case $1 in
    --bridge) bridge_url=${2:?--bridge needs a URL}; shift 2 ;;
    --lane) lane=${2:?--lane needs a name}; shift 2 ;;
    --display) display=${2:?--display needs a monitor name or index}; shift 2 ;;
    --kiosk-only) mode=kiosk; shift ;;
    --bridge-only) mode=bridge; shift ;;
    --pair-code) pair_code=${2:?--pair-code needs the token}; shift 2 ;;
    --no-start) no_start=1; shift ;;
    --python) python=${2:?--python needs an interpreter}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  die "run it as root (sudo $0 …), or with DESTDIR=DIR to install into DIR"
fi
if [ -n "$lane" ] && ! [[ $lane =~ ^[A-Za-z0-9._-]{1,64}$ ]]; then
  die "--lane $lane: use letters, digits, '.', '_' and '-' (at most 64), e.g. kassa-1"
fi
if [ -n "$display" ] && ! [[ $display =~ ^[A-Za-z0-9._-]{1,64}$ ]]; then
  die "--display $display: give a monitor's name or index from xrandr --listmonitors, e.g. HDMI-2 or 1"
fi
if [ -n "$bridge_url" ] && ! [[ $bridge_url =~ ^wss?://[^/[:space:]]+/?$ ]]; then
  die "--bridge $bridge_url: give the bridge's websocket address, e.g. ws://192.168.1.10:8765"
fi
if [ -n "$bridge_url" ] && [ "$mode" = both ] && ! [[ $bridge_url =~ ^wss?://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?/?$ ]]; then
  mode=kiosk  # a bridge on another machine: this till runs only the kiosk
fi
[ "$mode" = bridge ] && [ -n "$pair_code" ] && die "--pair-code is for a kiosk; --bridge-only installs none"
[ "$mode" = kiosk ] && [ -z "$bridge_url" ] && die "--kiosk-only needs --bridge ws://HOST:PORT (where the bridge runs)"
[ -n "$pair_code" ] && ! [[ $pair_code =~ ^sr_[A-Za-z0-9_-]{20,}$ ]] && \
  die "--pair-code: that is not a device token (they start with sr_; \`selfreg-bridge pair --lane LANE --role kiosk\` on the bridge's machine prints one)"
command -v "$python" >/dev/null || die "no Python at $python (--python PYTHON)"
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
  die "selfreg needs Python 3.11 or newer; $python is $("$python" -V 2>&1) (Debian 12 and Ubuntu 24.04 have one; or --python PYTHON)"
lane=${lane:-lane-1}
port=8765  # the local bridge's; a loopback --bridge with another port moves it there
[ "$mode" = both ] && [[ $bridge_url =~ :([0-9]+)/?$ ]] && port=${BASH_REMATCH[1]}
with_bridge=0 with_kiosk=0
[ "$mode" != kiosk ] && with_bridge=1
[ "$mode" != bridge ] && with_kiosk=1
live=1  # touch the running system (apt, other users)
[ -n "$root" ] && live=0
# systemd: the real one, unless DESTDIR; SELFREG_SYSTEMCTL=PROGRAM stands in for systemctl in
# tests (with DESTDIR) so the order of stops, starts and a rollback can be checked.
systemctl=${SELFREG_SYSTEMCTL:-systemctl}
services=$live
[ -n "${SELFREG_SYSTEMCTL:-}" ] && services=1
did=()
say() { echo "==> $*"; }
record() { did+=("$*"); }

opt=$root/opt/selfreg
etc=$root/etc/selfreg
state=$root/var/lib/selfreg
units=$root/etc/systemd/system

# --- system packages ------------------------------------------------------------------------
packages=(python3-venv)
[ "$with_kiosk" = 1 ] && packages+=(libmtdev1 libzbar0 libgl1 libegl1 libgl1-mesa-dri libegl-mesa0
                                    libgbm1 fonts-dejavu-core x11-xserver-utils)
if [ "$live" = 1 ]; then
  missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    record "installed Debian packages ${missing[*]}"
  fi
else
  record "would make sure these Debian packages are installed: ${packages[*]}"
fi

# --- users ----------------------------------------------------------------------------------
say "users selfreg and selfreg-kiosk"
install -D -m 0644 "$src/deploy/sysusers.d/selfreg.conf" "$root/usr/lib/sysusers.d/selfreg.conf"
if [ "$live" = 1 ]; then
  systemd-sysusers /usr/lib/sysusers.d/selfreg.conf
else
  mkdir -p "$root/etc"
  systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/selfreg.conf"
fi
record "users selfreg (the bridge) and selfreg-kiosk (the customer screen) exist ($root/etc/passwd)"
uid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$root/etc/passwd"; }
gid_of() { awk -F: -v n="$1" '$1 == n { print $3 }' "$root/etc/group"; }
own() {  # own USER GROUP PATH...: by the ids in the target's own passwd (DESTDIR's, or /etc's)
  local u=$1 g=$2; shift 2
  [ "$(id -u)" -eq 0 ] && chown "$(uid_of "$u"):$(gid_of "$g")" "$@"
  return 0
}
as_selfreg() {  # run a command as the bridge's user, with the bridge unit's environment
  local env=(SELFREG_CONFIG="$etc/selfreg.toml" SELFREG_DATA_DIR="$state" KIVY_NO_ARGS=1)
  if [ "$live" = 1 ]; then
    (cd "$state" && runuser -u selfreg -- env "${env[@]}" "$@")
  else
    env "${env[@]}" "$@"
  fi
}

stopped=()
snapshot=""
restore_snapshot() {
  [ -n "$snapshot" ] || return 0
  "$rel/venv/bin/python" - "$snapshot" "$db_file" <<'EOF'
import sqlite3, sys
src, dst = (sqlite3.connect(p) for p in sys.argv[1:3])
src.backup(dst)
dst.close(); src.close()
EOF
  rm -f "$snapshot"
  record "put the registry back as it was before the upgrade"
}
rollback() {  # the new release failed: the old one stays current and runs again
  local why=$1
  trap - ERR
  echo "install.sh: $why" >&2
  # A new bridge that failed to start is retried by systemd (Restart=always): stop it before
  # the registry is put back, or it would migrate it again.
  if [ "$services" = 1 ] && [ "$with_bridge" = 1 ]; then "$systemctl" stop selfreg-bridge.service 2>/dev/null || true; fi
  restore_snapshot
  if [ -n "$old" ]; then
    ln -sfn "$old" "$opt/current.new" && mv -T "$opt/current.new" "$opt/current"
    [ "${#stopped[@]}" -gt 0 ] && "$systemctl" start "${stopped[@]}"
    echo "install.sh: $old stays current${stopped:+ and was started again}" >&2
  else
    echo "install.sh: nothing was switched on" >&2
  fi
  cleanup_release
  exit 1
}

# --- the new release ------------------------------------------------------------------------
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$src/pyproject.toml" | head -1)
[ -n "$version" ] || die "no version in $src/pyproject.toml"
release=$version-$(date -u +%Y%m%dT%H%M%SZ)
rel=$opt/releases/$release
old=""
[ -L "$opt/current" ] && old=$(readlink "$opt/current")
mkdir -p "$opt/releases"
[ -e "$rel" ] && die "$rel exists already (two installs within a second?)"
cleanup_release() {
  rm -rf "$rel"
  [ "$(readlink "$opt/current" 2>/dev/null)" = "releases/$release" ] && rm -f "$opt/current"
  return 0
}
trap 'rollback "a step failed (see above)"' ERR

say "building release $release (a venv in $rel)"
"$python" -m venv "$rel/venv"
if [ -n "${SELFREG_SITE_PACKAGES:-}" ]; then
  site=$("$rel/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$SELFREG_SITE_PACKAGES" > "$site/zz-selfreg-shared-site.pth"
fi
"$rel/venv/bin/python" -m pip install --quiet --disable-pip-version-check "${src}[postgres,camera]"
cp "$src/README.md" "$rel/README.md"
cp -r "$src/deploy" "$rel/deploy"
commit=$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)
printf 'version = "%s"\nrelease = "%s"\ncommit = "%s"\n' "$version" "$release" "$commit" > "$rel/release.toml"
record "built release $release (selfreg $version, commit $commit) in $rel"

# --- configuration (never overwritten) ------------------------------------------------------
install -d -m 0755 "$etc"
if [ "$with_bridge" = 1 ]; then
  if [ -e "$etc/selfreg.toml" ]; then
    record "kept $etc/selfreg.toml as it was"
  else
    umask 027
    cat > "$etc/selfreg.toml" <<EOF
# The cashier bridge's settings (every key and its default: README, "Configuration").
# Read by selfreg-bridge.service as user selfreg; keep it 0640 root:selfreg: it may hold secrets.
host = "127.0.0.1"   # "0.0.0.0" lets phones (Via mobil) and kiosks of other tills reach it
port = $port
# The registry: SQLite in /var/lib/selfreg by default; a chain's PostgreSQL instead:
# db_url = "postgresql+psycopg://selfreg@/selfreg"   # unix socket, peer authentication
# shop_name = "Butiken"
# public_url = "https://kassa.example.se"
EOF
    umask 022
    chmod 0640 "$etc/selfreg.toml"
    own root selfreg "$etc/selfreg.toml"
    record "wrote $etc/selfreg.toml (0640, group selfreg)"
  fi
  install -d -m 0750 "$state"
  own selfreg selfreg "$state"
  # `sudo selfreg-bridge pair …` on the till: the service's settings, as its user.
  install -d -m 0755 "$root/usr/local/sbin"
  cat > "$root/usr/local/sbin/selfreg-bridge" <<'EOF'
#!/bin/sh
# selfreg-bridge with selfreg-bridge.service's settings, as its user (from deploy/install.sh).
# Files it reads or writes (import-csv, export-csv) must be reachable by the user selfreg.
exec runuser -u selfreg -- env SELFREG_CONFIG=/etc/selfreg/selfreg.toml \
  SELFREG_DATA_DIR=/var/lib/selfreg /opt/selfreg/current/venv/bin/selfreg-bridge "$@"
EOF
  chmod 0755 "$root/usr/local/sbin/selfreg-bridge"
  record "installed $root/usr/local/sbin/selfreg-bridge: 'sudo selfreg-bridge …' runs a command with the service's settings"
fi
if [ "$with_kiosk" = 1 ]; then
  if [ -e "$etc/kiosk.toml" ]; then
    record "kept $etc/kiosk.toml as it was"
  else
    umask 027
    cat > "$etc/kiosk.toml" <<EOF
# The customer screen's settings (README, "Configuration"). Read by selfreg-kiosk.service as
# user selfreg-kiosk; 0640 root:selfreg-kiosk, for it holds the kiosk's device token.
bridge_url = "${bridge_url:-ws://127.0.0.1:$port}"
lane = "$lane"
language = "sv"
camera = "0"          # /dev/video0; "none" without a camera
EOF
    if [ -n "$display" ]; then
      # The customer's monitor (xrandr --listmonitors); map-touch.sh reads it too.
      printf 'kiosk_display = "%s"\nkiosk_fullscreen = true\n' "$display" >> "$etc/kiosk.toml"
    fi
    umask 022
    chmod 0640 "$etc/kiosk.toml"
    own root selfreg-kiosk "$etc/kiosk.toml"
    record "wrote $etc/kiosk.toml (0640, group selfreg-kiosk) for lane $lane"
  fi
fi

# --- units ----------------------------------------------------------------------------------
install -d -m 0755 "$units"
installed_units=()
for unit in "$src"/deploy/systemd/*.service "$src"/deploy/systemd/*.timer; do
  [ -e "$unit" ] || continue
  install -m 0644 "$unit" "$units/"
  installed_units+=("$(basename "$unit")")
done
record "installed the units ${installed_units[*]} in $units"
if [ "$with_kiosk" = 1 ]; then
  install -D -m 0644 "$src/deploy/xdg/selfreg-kiosk-display.desktop" \
    "$root/etc/xdg/autostart/selfreg-kiosk-display.desktop"
  record "installed $root/etc/xdg/autostart/selfreg-kiosk-display.desktop (lets the kiosk draw on the desktop session's display)"
fi
# What this till runs: the kiosk's unit for a kiosk, the others (bridge, backup timer) for a
# bridge. Units without an [Install] section (the backup job, started by its timer) stay put.
enable=()
for unit in "${installed_units[@]}"; do
  grep -q '^\[Install\]' "$units/$unit" || continue
  case $unit in
    *kiosk*) [ "$with_kiosk" = 1 ] && enable+=("$unit") ;;
    *) [ "$with_bridge" = 1 ] && enable+=("$unit") ;;
  esac
done

# --- stop, migrate, switch ------------------------------------------------------------------
if [ "$with_bridge" = 1 ]; then
  # The old code must not write to a schema it does not know: stopped even with --no-start
  # (and then left stopped).
  if [ -n "$old" ] && [ "$services" = 1 ] && "$systemctl" -q is-active selfreg-bridge.service; then
    say "stopping the running bridge ($old) for the migration"
    "$systemctl" stop selfreg-bridge.service
    stopped+=(selfreg-bridge.service)
  fi
  db_url=$(as_selfreg "$rel/venv/bin/python" -c 'from cashier_bridge.config import load_settings; print(load_settings().db_url)')
  db_file=""
  if [[ $db_url == sqlite:///* ]]; then
    db_file=${db_url#sqlite:///}
    if [ -s "$db_file" ]; then
      snapshot=$(dirname "$db_file")/pre-upgrade-$release.db
      "$rel/venv/bin/python" - "$db_file" "$snapshot" <<'EOF'
import sqlite3, sys
src, dst = (sqlite3.connect(p) for p in sys.argv[1:3])
src.backup(dst)  # SQLite's online backup: consistent even with a -wal file beside it
dst.close(); src.close()
EOF
      own selfreg selfreg "$snapshot"
    fi
  fi
  say "migrating the registry with release $release"
  if ! migrated=$(as_selfreg "$rel/venv/bin/selfreg-bridge" migrate 2>"$rel/migrate.log"); then
    tail -n 5 "$rel/migrate.log" >&2
    rollback "the registry could not be migrated to release $release"
  fi
  record "$migrated"
  [ -n "$snapshot" ] && record "kept a copy of the registry from before the migration until the new release was current: $snapshot"
  # the bridge's files are its own (a release may have just made the database or its keys)
  [ -d "$state" ] && own selfreg selfreg -R "$state"
fi

try_token() {  # says hello to the bridge as this lane's kiosk; exit 3: unreachable, 4: refused
  "$rel/venv/bin/python" - "$bridge_url" "$lane" "$1" 2>/dev/null <<'EOF'
import asyncio, json, sys
from websockets.asyncio.client import connect
from cashier_bridge.protocol import Hello, Role, dump
from kiosk.link import kiosk_ws_url

url, lane, token = sys.argv[1:4]


async def hello() -> dict:
    async with connect(kiosk_ws_url(url), open_timeout=5) as ws:
        await ws.send(dump(Hello(role=Role.kiosk, lane=lane, token=token)))
        return json.loads(await asyncio.wait_for(ws.recv(), 5))

try:
    reply = asyncio.run(hello())
except Exception as exc:  # unreachable: the kiosk keeps trying once it runs
    print(f"{type(exc).__name__}: {exc}")
    sys.exit(3)
if reply.get("type") != "welcome":
    print(reply.get("message") or reply.get("code") or reply)
    sys.exit(4)
EOF
}
check_token() {  # a typed token is tried on the bridge before it is kept: a typo shows now
  local reply rc=0
  reply=$(try_token "$1") || rc=$?
  case $rc in
    0) record "the bridge at $bridge_url accepted the kiosk's token for lane $lane (kept in $etc/kiosk.toml)" ;;
    3) record "could not reach the bridge at $bridge_url to try the token ($reply); kept it in $etc/kiosk.toml, and the kiosk connects once the bridge answers" ;;
    *) rollback "the bridge at $bridge_url refused that token for lane $lane: $reply (pair again on the bridge's machine: selfreg-bridge pair --lane $lane --role kiosk)" ;;
  esac
}

# --- pairing (once per kiosk) ---------------------------------------------------------------
if [ "$with_kiosk" = 1 ] && ! grep -q '^device_token *=' "$etc/kiosk.toml"; then
  if [ "$with_bridge" = 1 ]; then
    token=$(as_selfreg "$rel/venv/bin/selfreg-bridge" pair --lane "$lane" --role kiosk \
              --label "kiosk of $(hostname) (install.sh)" 2>/dev/null) \
      || rollback "could not pair the kiosk with lane $lane"
    record "paired this till's kiosk with lane $lane (token in $etc/kiosk.toml)"
  else
    token=$pair_code
    if [ -z "$token" ] && [ -t 0 ]; then
      echo "On the bridge's machine run:  sudo selfreg-bridge pair --lane $lane --role kiosk"
      read -r -s -p "and type the token it prints (sr_…): " token; echo
      [[ $token =~ ^sr_[A-Za-z0-9_-]{20,}$ ]] || rollback "that is not a device token (they start with sr_)"
    fi
    if [ -n "$token" ]; then
      check_token "$token"
    else
      record "the kiosk is NOT paired: add device_token = \"sr_…\" to $etc/kiosk.toml (or run again with --pair-code); until then its screen says what to run"
    fi
  fi
  if [ -n "${token:-}" ]; then
    printf 'device_token = "%s"  # from selfreg-bridge pair; shown once\n' "$token" >> "$etc/kiosk.toml"
  fi
fi
if [ "$with_kiosk" = 1 ]; then
  install -d -m 0750 "$root/var/lib/selfreg-kiosk"
  own selfreg-kiosk selfreg-kiosk "$root/var/lib/selfreg-kiosk"
fi

ln -sfn "releases/$release" "$opt/current.new"
mv -T "$opt/current.new" "$opt/current"
record "/opt/selfreg/current -> releases/$release${old:+ (was $old)}"

# --- start ----------------------------------------------------------------------------------
if [ "$services" = 1 ] && [ "$no_start" = 0 ]; then
  "$systemctl" daemon-reload
  "$systemctl" enable "${enable[@]}" >/dev/null 2>&1
  record "enabled ${enable[*]} (started at boot)"
  if [ "$with_bridge" = 1 ]; then
    say "starting the bridge"
    # Type=notify: this returns once the bridge said it is ready, or fails.
    "$systemctl" restart selfreg-bridge.service || {
      [ -n "$old" ] && rollback "release $release's bridge did not start (journalctl -u selfreg-bridge)"
      echo "install.sh: the bridge did not start: journalctl -u selfreg-bridge" >&2; exit 1; }
    stopped=()
    record "started selfreg-bridge.service ($("$systemctl" is-active selfreg-bridge.service))"
  fi
  for unit in "${enable[@]}"; do
    case $unit in
      selfreg-bridge.service) ;;
      *.timer) "$systemctl" restart "$unit"; record "started $unit" ;;
      *) "$systemctl" restart "$unit" || echo "install.sh: $unit did not start yet (journalctl -u ${unit%.service}); it retries by itself" >&2
         record "started $unit" ;;
    esac
  done
else
  record "would run: systemctl daemon-reload; systemctl enable --now ${enable[*]}"
  [ "${#stopped[@]}" -gt 0 ] && record "stopped ${stopped[*]} for the migration and left it stopped (--no-start)"
fi
trap - ERR
[ -n "$snapshot" ] && rm -f "$snapshot"

# Keep the current release and the two before it (to go back by hand: ln -sfn releases/OLD current).
keep=3
mapfile -t releases < <(ls -1t "$opt/releases")
for r in "${releases[@]:$keep}"; do
  [ "releases/$r" = "$(readlink "$opt/current")" ] || { rm -rf "${opt:?}/releases/$r"; record "removed the old release $r"; }
done

echo
echo "selfreg $version installed${old:+ (upgraded from ${old#releases/})}:"
for line in "${did[@]}"; do echo "  - $line"; done
echo
if [ "$with_bridge" = 1 ]; then
  echo "  bridge:  systemctl status selfreg-bridge; journalctl -u selfreg-bridge"
  echo "           config $etc/selfreg.toml, data $state"
fi
if [ "$with_kiosk" = 1 ]; then
  echo "  kiosk:   systemctl status selfreg-kiosk (lane $lane); config $etc/kiosk.toml"
fi
echo "  remove:  sudo /opt/selfreg/current/deploy/uninstall.sh [--purge]"
