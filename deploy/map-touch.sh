#!/usr/bin/env bash
# Maps the customer screen's touch input onto the customer screen's monitor.
#
# Without this, X spreads a touch screen over the whole desktop: on a till with the cashier's
# monitor on the left and the customer's on the right, a touch at the customer screen's left edge
# lands on the cashier's monitor. Run it in the kiosk's X session (DISPLAY set), after the
# monitors are up and every time a touch screen is plugged in; running it again changes nothing.
#
#   deploy/map-touch.sh [--device NAME|ID]... [--dry-run] MONITOR
#
# MONITOR is a name or index from `xrandr --listmonitors` (the kiosk's --display), or an output
# name from `xrandr --query`; default $SELFREG_KIOSK_DISPLAY, else kiosk_display in the kiosk's
# configuration file $SELFREG_CONFIG.
# Touch devices are the X pointers with a touch class or "touch" in their name; --device names
# them instead (repeatable; `xinput list` shows the names and ids).
# Exit status: 0 mapped (or already mapped), 1 no touch device, 2 usage or unknown monitor,
# 3 no X server or tools.
set -euo pipefail

say() { echo "map-touch: $*"; }
fail() { local status=$1; shift; echo "map-touch: $*" >&2; exit "$status"; }

devices=()
dry_run=0
monitor="${SELFREG_KIOSK_DISPLAY:-}"
if [ -z "$monitor" ] && [ -r "${SELFREG_CONFIG:-}" ]; then
  # The kiosk's own setting, so a unit can run this with the kiosk's environment and no argument.
  monitor=$(sed -n 's/^[[:space:]]*kiosk_display[[:space:]]*=[[:space:]]*"\{0,1\}\([^"#]*[^"# ]\)"\{0,1\}[[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$SELFREG_CONFIG" | tail -1)
fi
while [ $# -gt 0 ]; do
  case "$1" in
    --device) [ $# -ge 2 ] || fail 2 "--device needs a name or id"; devices+=("$2"); shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) fail 2 "unknown option $1 (see --help)" ;;
    *) monitor="$1"; shift ;;
  esac
done
[ -n "$monitor" ] || fail 2 "which monitor? give its name or index from xrandr --listmonitors (or kiosk_display in \$SELFREG_CONFIG)"
[ -n "${DISPLAY:-}" ] || fail 3 "DISPLAY is not set: run this in the kiosk's X session"
for tool in xrandr xinput; do
  command -v "$tool" >/dev/null || fail 3 "$tool is not installed (apt-get install $([ "$tool" = xinput ] && echo xinput || echo x11-xserver-utils))"
done

monitors=$(xrandr --listmonitors) || fail 3 "xrandr cannot reach the X server on $DISPLAY"
query=$(xrandr --query)
# " 1: +*HDMI-2 1920/344x1080/194+1920+0  HDMI-2" -> "1 HDMI-2 1920 1080 1920 0"
geometry=""
by_index=""
line_re='^ *([0-9]+): +[+*]*([^ ]+) +([0-9]+)/[0-9]+x([0-9]+)/[0-9]+([+-][0-9]+)([+-][0-9]+)'
while IFS= read -r line; do
  [[ $line =~ $line_re ]] || continue
  m=("${BASH_REMATCH[@]}")
  found="${m[1]} ${m[2]} ${m[3]} ${m[4]} $((m[5])) $((m[6]))"
  if [ "${m[2]}" = "$monitor" ]; then geometry=$found; break; fi
  [ "${m[1]}" = "$monitor" ] && by_index=$found
done <<<"$monitors"
[ -n "$geometry" ] || geometry=$by_index
if [ -z "$geometry" ] && ! grep -q "^$monitor connected" <<<"$query"; then
  fail 2 "there is no monitor '$monitor'; the X server has:
$(tail -n +2 <<<"$monitors")"
fi

# Which outputs really are outputs: those map with xinput map-to-output, which also follows
# rotation. A monitor made with `xrandr --setmonitor` gets the same matrix computed here.
read -r screen_w screen_h < <(sed -n 's/.* current \([0-9]*\) x \([0-9]*\),.*/\1 \2/p' <<<"$query")
if [ -n "$geometry" ]; then
  read -r _ name width height left top <<<"$geometry"
else
  name="$monitor"
fi
is_output=0
grep -q "^$name connected" <<<"$query" && is_output=1

if [ "${#devices[@]}" -eq 0 ]; then
  while read -r id; do
    info=$(xinput list --long "$id" 2>/dev/null) || continue
    grep -q "slave  pointer" <<<"$info" || continue
    if grep -q "XITouchClass" <<<"$info" || head -1 <<<"$info" | grep -qi "touch"; then
      devices+=("$id")
    fi
  done < <(xinput list --id-only)
  if [ "${#devices[@]}" -eq 0 ]; then
    fail 1 "no touch screen found among the X input devices (plug it in, or name it with --device):
$(xinput list --name-only | sed 's/^/  /')"
  fi
fi

matrix_for() {  # the Coordinate Transformation Matrix putting 0..1 onto the monitor
  awk -v w="$width" -v h="$height" -v x="$left" -v y="$top" -v W="$screen_w" -v H="$screen_h" \
    'BEGIN { printf "%.6f 0 %.6f 0 %.6f %.6f 0 0 1", w / W, x / W, h / H, y / H }'
}
current_matrix() {
  xinput list-props "$1" | sed -n 's/.*Coordinate Transformation Matrix ([0-9]*):[[:space:]]*//p' \
    | tr -d ',' | awk '{ for (i = 1; i <= NF; i++) printf "%s%.6f", (i > 1 ? " " : ""), $i }'
}
same_matrix() {  # compares the numbers, not their spelling
  awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, p, " "); m = split(b, q, " ")
    if (n != m) exit 1; for (i = 1; i <= n; i++) if ((p[i] - q[i]) ^ 2 > 1e-10) exit 1 }'
}

status=0
for device in "${devices[@]}"; do
  label=$(xinput list --name-only "$device" 2>/dev/null) || { say "no input device '$device'" >&2; status=1; continue; }
  before=$(current_matrix "$device")
  if [ "$is_output" = 1 ]; then
    how=(xinput map-to-output "$device" "$name")
  else
    [ -n "${width:-}" ] || fail 2 "'$name' is an output that is not on any monitor"
    wanted=$(matrix_for)
    if [ -n "$before" ] && same_matrix "$before" "$wanted"; then
      say "'$label' is already mapped onto $name"
      continue
    fi
    read -r -a numbers <<<"$wanted"  # nine numbers, nine arguments
    how=(xinput set-prop "$device" "Coordinate Transformation Matrix" "${numbers[@]}")
  fi
  if [ "$dry_run" = 1 ]; then
    say "would run: ${how[*]}"
    continue
  fi
  "${how[@]}" || { say "could not map '$label' onto $name" >&2; status=1; continue; }
  after=$(current_matrix "$device")
  if [ "$before" = "$after" ]; then
    say "'$label' is already mapped onto $name"
  else
    say "mapped '$label' onto $name${width:+ (${width}x${height}+${left}+${top})}"
  fi
done
exit "$status"
