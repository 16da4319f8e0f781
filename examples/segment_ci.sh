#!/usr/bin/env bash
# A CI step for product shots: the subject must fill 20-80 % of the frame (exit 1 names the
# photos that do not), and the masks are kept as 8-bit PNGs for review.
set -euo pipefail
optik segment examples/images/coffee.png examples/images/chelsea.png \
    --min-foreground 0.2 --max-foreground 0.8 --mode mask -o "${1:-masks}/" --overwrite -q
echo "product shots are framed right"
# classical (OpenCV, no weights): the dark subject must stand out from the bright sky
optik segment examples/images/camera.png -m otsu --min-foreground 0.1 --max-foreground 0.5 -q
