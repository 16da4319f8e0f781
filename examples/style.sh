#!/usr/bin/env bash
# Style transfer tour (run from the repository root after `make setup`): writes into out/style-tour/.
set -euo pipefail
out=${1:-out/style-tour}
mkdir -p "$out"
optik style --list                                                          # the 26 styles by number and name
optik style examples/images/chelsea.png --gallery "$out/gallery.png" --overwrite  # all of them, to pick by eye
optik style examples/images/chelsea.png --style blue-swirls -o "$out/swirls.jpg" --overwrite
optik style examples/images/chelsea.png --style 3:0.6,17:0.4 --strength 0.8 -o "$out/blend.png" --overwrite
optik style examples/images/astronaut.png --style 19 --preserve-color -o "$out/own-colours.png" --overwrite
# any picture as the style: here another photo stands in for a painting
optik style examples/images/chelsea.png --style examples/images/coffee.png -o "$out/coffee-cat.png" --overwrite
# classical filters, no model; a folder in, a folder out, records as JSON Lines
optik style examples/images --style cartoon -o "$out/cartoon/" --overwrite --format jsonl > "$out/cartoon.jsonl"
# finer strokes: process at 1536 px (above 1024 it runs in tiles, with whole-image statistics: no seams)
optik style examples/images/rocket.jpg --style blue-swirls --size 1536 -o "$out/rocket-fine.png" --overwrite
# stdout: the image alone goes there (the record goes to stderr)
optik style examples/images/coffee.png --style pencil -o - > "$out/pencil.png"
