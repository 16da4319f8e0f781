#!/usr/bin/env bash
# Cut out the subject of every photo below a folder (transparent PNGs, names mirrored), put the
# people from the same photos on a plain background, and list what each cut-out kept.
# Usage: examples/segment_batch.sh PHOTOS_DIR [OUT_DIR]
set -euo pipefail
dir=${1:?usage: $0 PHOTOS_DIR [OUT_DIR]}
out=${2:-cutouts}
# isnet when pulled (`optik models pull isnet`), otherwise selfie; exit 3 = some files were unreadable
optik segment -r "$dir" -o "$out/cutout/" --skip-existing --format jsonl > "$out.jsonl" || [ $? -eq 3 ]
optik segment -r "$dir" -m selfie --bg "#f0f0f0" -o "$out/portrait/" --skip-existing -q > /dev/null || [ $? -eq 3 ]
python3 - "$out.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "error" in r:
        print(f"{r['path']}: ERROR {r['error']}")
    else:
        print(f"{r['path']}: {r['foreground']:.0%} foreground in {r['bbox']} -> {r['output']}")
PY
