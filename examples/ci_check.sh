#!/usr/bin/env bash
# A CI step: product photos must show coffee; fail the build (exit 1) naming the wrong ones.
set -euo pipefail
optik classify examples/images/coffee.png --expect "espresso,cup,coffee mug" --min-score 0.5 -q
echo "product photos look right"
