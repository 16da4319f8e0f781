#!/usr/bin/env bash
# One-liners for every subcommand that exists (run from the repository root after `make setup`).
set -x
optik classify examples/images/coffee.png
optik classify examples/images --format jsonl
optik classify examples/images/chelsea.png --expect cat
cat examples/images/coffee.png | optik classify - --top-k 1
optik classify 'examples/images/*.png' --format csv
optik models list
optik models info mobilenet_v2
optik models verify
