#!/usr/bin/env bash
# Removes selfreg from a till: stops and disables its units, removes them, the releases under
# /opt/selfreg and the desktop autostart entry.
#
#   sudo ./deploy/uninstall.sh           keeps the registry (/var/lib/selfreg), the config
#                                        (/etc/selfreg) and the users: install.sh again and the
#                                        till is back as it was, with its customers
#   sudo ./deploy/uninstall.sh --purge   also deletes those: every customer on this till is gone
#
# DESTDIR=/some/dir works on an install made with DESTDIR (no systemctl, no userdel).
set -euo pipefail

root=${DESTDIR:-}
root=${root%/}
purge=0
case ${1:-} in
  "") ;;
  --purge) purge=1 ;;
  -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "uninstall.sh: unknown option $1 (--purge, --help)" >&2; exit 2 ;;
esac
if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
  echo "uninstall.sh: run it as root (sudo $0)" >&2
  exit 2
fi

units_dir=$root/etc/systemd/system
shopt -s nullglob
units=()
for unit in "$units_dir"/selfreg-*.service "$units_dir"/selfreg-*.timer; do
  units+=("$(basename "$unit")")
done
if [ "${#units[@]}" -gt 0 ]; then
  if [ -z "$root" ]; then
    systemctl disable --now "${units[@]}" >/dev/null 2>&1 || true
  fi
  for unit in "${units[@]}"; do
    rm -f "$units_dir/$unit" "$units_dir"/*.wants/"$unit"
  done
  [ -z "$root" ] && systemctl daemon-reload
  echo "stopped and removed ${units[*]}"
fi
rm -f "$root/etc/xdg/autostart/selfreg-kiosk-display.desktop" "$root/usr/local/sbin/selfreg-bridge"
rm -rf "$root/opt/selfreg"
echo "removed /opt/selfreg (every release)"

if [ "$purge" = 1 ]; then
  rm -rf "$root/var/lib/selfreg" "$root/var/lib/selfreg-kiosk" "$root/etc/selfreg"
  for user in selfreg-kiosk selfreg; do
    if [ -z "$root" ]; then
      if getent passwd "$user" >/dev/null; then userdel "$user"; fi
    else
      for f in passwd shadow group gshadow; do
        [ -f "$root/etc/$f" ] && sed -i "/^$user:/d; s/\([:,]\)$user\(,\|$\)/\1/; s/,$//" "$root/etc/$f"
      done
    fi
  done
  rm -f "$root/usr/lib/sysusers.d/selfreg.conf"
  echo "purged: the registry, the config and the users selfreg and selfreg-kiosk are gone"
else
  echo "kept the registry ($root/var/lib/selfreg), the config ($root/etc/selfreg) and the users;"
  echo "install.sh brings selfreg back with them, uninstall.sh --purge deletes them"
fi
