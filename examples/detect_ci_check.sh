#!/usr/bin/env bash
# A CI step: every product photo must show exactly one person and no more than 3 objects in all;
# exit 1 names the photos that fail. (The astronaut passes; the coffee photo has no person.)
set -euo pipefail
optik detect examples/images/astronaut.png --expect person --max-count 3 -q
echo "product photos look right"
if ! optik detect examples/images/coffee.png --classes person --min-count 1 -q 2>/dev/null; then
  echo "coffee.png has no person, as expected (exit 1)"
fi
