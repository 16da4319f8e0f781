#!/usr/bin/env bash
# Tour of `optik enhance` (run from the repository root after `make setup`): writes into out/enhance-tour/.
# realesrgan-x4plus needs ~30 s of one CPU core per output megapixel, so its steps use a 128×128 crop.
set -euo pipefail
out=${1:-out/enhance-tour}
mkdir -p "$out"
# a crop of a photo, and a copy of it with sensor-like noise (needs the venv's python: numpy + OpenCV)
python3 - "$out" <<'PY'
import sys
import cv2
import numpy as np
out = sys.argv[1]
face = cv2.imread("examples/images/astronaut.png")[10:138, 170:298]
cv2.imwrite(f"{out}/face.png", face)
noisy = np.clip(face + np.random.default_rng(0).normal(0, 12, face.shape), 0, 255).astype(np.uint8)
cv2.imwrite(f"{out}/face-noisy.png", noisy)
PY
optik enhance "$out/face.png" -o "$out/face-x4.png" --overwrite                     # Real-ESRGAN x4plus, ×4
optik enhance "$out/face.png" --scale 2 -o "$out/face-x2.png" --overwrite           # ×4, then area-resampled to ×2
optik enhance "$out/face-noisy.png" --scale 1 -o "$out/face-restored.png" --overwrite  # restoration, same size
optik enhance "$out/face-noisy.png" -m none --denoise=12 -o "$out/face-nlmeans.png" --overwrite  # the classical way
# the compact model on a whole folder (alpha, gray and 16-bit kept), records as JSON Lines
optik enhance examples/images -m realesr-animevideov3 -s 2 -o "$out/x2/" --overwrite --format jsonl > "$out/x2.jsonl"
# classical only: gray-world white balance, CLAHE, then a light unsharp mask, in that order
optik enhance examples/images/rocket.jpg -m none --white-balance --clahe --sharpen 0.6 -o "$out/rocket.jpg" --overwrite
# big images run in tiles sized from free memory; or choose: 64-px tiles with 16 px of context each
optik enhance examples/images/coffee.png -m realesr-animevideov3 --tile 64 -o "$out/coffee-x4.png" --overwrite
# stdout: the PNG alone goes there (the record goes to stderr)
optik enhance examples/images/logo.png -m none --scale 0.5 -o - > "$out/logo-half.png"
