#!/bin/bash
# Runs inside the clean Debian 12 root of `./studio package`: exercises an installed copy of
# the studio. $1 = the installation prefix (/usr for the .deb, the unpacked folder for the
# .tar.gz), $2 = a label for the output folder. Fails on the first thing that does not work.
set -euo pipefail
prefix="$1"
label="$2"
work="/tmp/check-$label"
rm -rf "$work"
mkdir -p "$work/home"
export HOME="$work/home"
unset LD_LIBRARY_PATH
cli="$prefix/bin/contrastive-cli"
gui="$prefix/bin/contrastive-studio"
step() { printf '[%s] %s\n' "$label" "$*"; }

step "binaries find their libraries through their RPATH"
for exe in "$cli" "$gui" "$prefix/bin/contrastive-onnx-export"; do
  if ldd "$exe" | grep 'not found' >/dev/null; then
    ldd "$exe" | grep 'not found'
    exit 1
  fi
done
# The ONNX exporter never loads LibTorch; the two clients load the bundled one.
for exe in "$cli" "$gui"; do
  loaded="$(readlink -f "$(ldd "$exe" | sed -n 's/^[[:space:]]*libtorch_cpu\.so => \(.*\) (0x[0-9a-f]*)$/\1/p')")"
  [ "$loaded" = "$(readlink -f "$prefix/lib/contrastive-studio/libtorch_cpu.so")" ] \
    || { echo "$exe does not load the bundled LibTorch: $loaded"; exit 1; }
done
! ldd "$prefix/bin/contrastive-onnx-export" | grep libtorch >/dev/null || { echo "the ONNX exporter loads LibTorch"; exit 1; }

step "the licences of what the package bundles"
for f in copyright LIBTORCH-LICENSE LIBTORCH-NOTICE; do
  [ -s "$prefix/share/doc/contrastive-studio/$f" ] || { echo "missing: $prefix/share/doc/contrastive-studio/$f"; exit 1; }
done

step "$("$cli" --version)"
"$cli" --version | grep -qx "contrastive-cli [0-9][0-9.]*"
"$cli" info

step "a short headless training run on Fashion-MNIST"
"$cli" train --config "$prefix/share/contrastive-studio/presets/quick-cpu-demo.json" \
  --set train.max_steps=20 --set monitor.every_epochs=0 --set monitor.bank_size=1000 --set monitor.query_size=500 \
  --runs-dir "$work/runs" --json > "$work/train.jsonl"
tail -n 1 "$work/train.jsonl"
grep -q '"status":"finished"' "$work/train.jsonl" || grep -q '"status": "finished"' "$work/train.jsonl" \
  || { echo "the run did not finish"; exit 1; }
ls "$work"/runs/*/checkpoints/last.pt >/dev/null

step "the run's encoder exported as safetensors and ONNX (the bundled ONNX exporter)"
run_dir="$(dirname "$(dirname "$(ls "$work"/runs/*/checkpoints/last.pt | head -n 1)")")"
"$cli" export "$run_dir" --format safetensors --out "$work/export-st" > "$work/export.log" 2>&1 \
  || { cat "$work/export.log"; exit 1; }
[ -s "$work/export-st/encoder.safetensors" ] || { echo "no encoder.safetensors"; exit 1; }
"$cli" export "$run_dir" --format onnx --out "$work/export-onnx" > "$work/export.log" 2>&1 \
  || { cat "$work/export.log"; exit 1; }
[ -s "$work/export-onnx/encoder.onnx" ] || { echo "no encoder.onnx"; exit 1; }

if [ "$label" = deb ]; then
  step "desktop integration files"
  for f in /usr/share/applications/contrastive-studio.desktop /usr/share/mime/packages/contrastive-studio.xml \
           /usr/share/metainfo/studio.contrastive.ContrastiveStudio.metainfo.xml \
           /usr/share/icons/hicolor/scalable/apps/contrastive-studio.svg \
           /usr/share/icons/hicolor/48x48/apps/contrastive-studio.png /usr/share/man/man1/contrastive-cli.1.gz; do
    [ -s "$f" ] || { echo "missing: $f"; exit 1; }
  done
fi

step "the desktop studio under Xvfb (demo tour, screenshots)"
timeout 600 xvfb-run -a -s "-screen 0 1600x1000x24" "$gui" --screenshots "$work/shots" > "$work/gui.log" 2>&1 \
  || { cat "$work/gui.log"; exit 1; }
for page in data augmentations training monitor embeddings runs results; do
  [ -s "$work/shots/$page.png" ] || { echo "no screenshot of $page"; cat "$work/gui.log"; exit 1; }
done
step "passed"
