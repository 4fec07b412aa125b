#!/usr/bin/env bash
# `./studio run` with a display opens the studio: the entry script's own launch path (set-up
# check, no-op build, start) under Xvfb on a 1600x1000 screen. Passes when a top-level window
# titled "... — Contrastive Studio" appears, at a size that fits the screen and its pages.
# Usage: run_with_display.sh STUDIO_SCRIPT SCRATCH_DIR
set -euo pipefail
studio="$1"
scratch="$2"
rm -rf "$scratch"
mkdir -p "$scratch/home"
# A throw-away home: the studio's settings and runs never touch the user's.
export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home/config" XDG_DATA_HOME="$scratch/home/data"
unset QT_QPA_PLATFORM WAYLAND_DISPLAY DISPLAY

xvfb-run -a -s "-screen 0 1600x1000x24" bash -s "$studio" "$scratch/run.log" <<'INNER'
studio="$1"
log="$2"
"$studio" run > "$log" 2>&1 &
pid=$!
window=""
for _ in $(seq 1 240); do  # up to 120 s: the set-up check and the no-op build come first
  window="$(xwininfo -root -tree 2>/dev/null | grep -m1 -- '— Contrastive Studio"' || true)"
  [ -n "$window" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if [ -z "$window" ]; then
  echo "FAIL: no Contrastive Studio window appeared; ./studio run printed:"
  cat "$log"
  kill "$pid" 2>/dev/null
  exit 1
fi
echo "window: $window"
id="$(awk '{print $1}' <<<"$window")"
sleep 1  # let the window manager-less X server settle the final geometry
size="$(xwininfo -id "$id" | awk '/Width:/ {w=$2} /Height:/ {h=$2} END {print w "x" h}')"
echo "size: $size"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
grep -q "Opening Contrastive Studio" "$log" || { echo "FAIL: ./studio run did not say it opens the studio:"; cat "$log"; exit 1; }
w="${size%x*}" h="${size#*x}"
# On a 1600x1000 screen the first window is large enough to show every page readably, and
# within the screen.
if [ "$w" -lt 1200 ] || [ "$h" -lt 750 ] || [ "$w" -gt 1600 ] || [ "$h" -gt 1000 ]; then
  echo "FAIL: the window opened at ${size} on a 1600x1000 screen (expected at least 1200x750, within the screen)"
  exit 1
fi
echo "PASS"
INNER
