#!/usr/bin/env bash
# Blur every face in a folder of photos (MTCNN), keeping the folder layout; report what was hidden.
# Usage: examples/detect_anonymise.sh PHOTOS_DIR OUT_DIR [blur|pixelate|fill]
set -euo pipefail
dir=${1:?usage: $0 PHOTOS_DIR OUT_DIR [blur|pixelate|fill]}
out=${2:?usage: $0 PHOTOS_DIR OUT_DIR [blur|pixelate|fill]}
mode=${3:-blur}
mkdir -p "$(dirname "$out")"
# exit 3 means some files were unreadable: each is named on stderr, the rest are anonymised
optik detect -r "$dir" --model mtcnn --redact "$mode" -o "$out/" --skip-existing --format jsonl \
  > "$out.faces.jsonl" || [ $? -eq 3 ]
python3 - "$out.faces.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['path']}: " + (f"ERROR {r['error']}" if "error" in r else f"{len(r['detections'])} face(s) hidden"))
PY
