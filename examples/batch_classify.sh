#!/usr/bin/env bash
# Classify every image below a folder, streaming JSON Lines, then list the confident labels.
# Usage: examples/batch_classify.sh PHOTOS_DIR [OUT.jsonl]
set -euo pipefail
dir=${1:?usage: $0 PHOTOS_DIR [OUT.jsonl]}
out=${2:-labels.jsonl}
# exit 3 means some files were unreadable: they are reported per file, the rest are labelled
optik classify -r "$dir" --format jsonl --batch-size 16 > "$out" || [ $? -eq 3 ]
python3 - "$out" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "error" in r:
        print(f"{r['path']}: ERROR {r['error']}")
    elif r["predictions"][0]["score"] >= 0.5:
        print(f"{r['path']}: {r['predictions'][0]['label']}")
PY
