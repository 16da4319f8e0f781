#!/usr/bin/env bash
# One-liners for every subcommand (run from the repository root after `make setup`; writes to out/one-liners/).
set -x
export PATH="$PWD/.venv/bin:$PATH"
out=out/one-liners
mkdir -p "$out"
optik classify examples/images/coffee.png
optik classify examples/images --format jsonl
optik classify examples/images/chelsea.png --expect cat
cat examples/images/coffee.png | optik classify - --top-k 1
optik classify 'examples/images/*.png' --format csv
optik detect examples/images/astronaut.png -o "$out/astronaut-boxes.png" --overwrite
optik detect examples/images/astronaut.png --model mtcnn --redact blur -o "$out/astronaut-anonymised.png" --overwrite
optik detect examples/images --expect person --format jsonl
optik segment examples/images/astronaut.png --model selfie -o "$out/astronaut-cutout.png" --overwrite
optik segment examples/images/coffee.png --model kmeans --k 3 --mode overlay -o "$out/coffee-kmeans.png" --overwrite
optik enhance examples/images/logo.png --model realesr-animevideov3 --scale 2 -o "$out/logo-x2.png" --overwrite
optik enhance examples/images/rocket.jpg --model none --white-balance --clahe -o "$out/rocket-better.jpg" --overwrite
optik style examples/images/chelsea.png --style blue-swirls -o "$out/chelsea-swirls.jpg" --overwrite
optik style examples/images/chelsea.png --style cartoon -o - > "$out/chelsea-cartoon.png"
optik style --list
optik models list
optik models info mobilenet_v2
optik models verify
