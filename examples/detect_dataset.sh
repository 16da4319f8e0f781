#!/usr/bin/env bash
# Pseudo-label a folder for training: YOLO .txt files (plus classes.txt) and a COCO JSON, with
# crops of every person and annotated previews.
# Usage: examples/detect_dataset.sh IMAGES_DIR OUT_DIR [MODEL]
set -euo pipefail
dir=${1:?usage: $0 IMAGES_DIR OUT_DIR [MODEL]}
out=${2:?usage: $0 IMAGES_DIR OUT_DIR [MODEL]}
model=${3:-nanodet}
optik detect -r "$dir" --model "$model" --conf 0.5 --labels-out "$out/labels/" -o "$out/preview/" -q
optik detect -r "$dir" --model "$model" --conf 0.5 --labels-out "$out/annotations.json" \
  --classes person --crops "$out/people/" --format csv > "$out/people.csv"
echo "YOLO labels in $out/labels/, COCO in $out/annotations.json, people in $out/people/"
