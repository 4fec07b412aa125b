#!/usr/bin/env bash
# `./studio run` without a display trains headless: a progress bar, then the run folder.
# The default experiment, shortened with --set so the check takes seconds.
# Usage: run_without_display.sh STUDIO_SCRIPT SCRATCH_DIR
set -euo pipefail
studio="$1"
scratch="$2"
rm -rf "$scratch"
mkdir -p "$scratch/home"
export HOME="$scratch/home" XDG_CONFIG_HOME="$scratch/home/config" XDG_DATA_HOME="$scratch/home/data"
unset DISPLAY WAYLAND_DISPLAY
out="$scratch/out.log"
"$studio" run --runs-dir "$scratch/runs" --set dataset.train_limit=512 --set train.epochs=1 --set train.batch_size=128 \
  --set monitor.bank_size=512 --set monitor.query_size=256 --set train.device=cpu > "$out" 2>&1 || {
  echo "FAIL: ./studio run exited non-zero:"; cat "$out"; exit 1; }
cat "$out"
grep -q "No display" "$out" || { echo "FAIL: it did not say it trains headless"; exit 1; }
folder="$(sed -n 's/.*Run folder: \(.*\)$/\1/p' "$out" | tail -n 1)"
[ -n "$folder" ] || { echo "FAIL: no 'Run folder:' line"; exit 1; }
for f in config.json metrics.jsonl run.json; do
  [ -f "$folder/$f" ] || { echo "FAIL: $folder/$f is missing"; exit 1; }
done
grep -q '"kind":"step"' "$folder/metrics.jsonl" || { echo "FAIL: no training step in $folder/metrics.jsonl"; exit 1; }
echo "PASS: trained headless into $folder"
