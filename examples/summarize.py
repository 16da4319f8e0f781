"""Print a short summary of what `make demo` wrote to out/ (JSON Lines records per task)."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path) -> None:
    for jsonl in sorted(out.glob("*.jsonl")):
        print(f"== {jsonl.name}")
        for line in jsonl.read_text().splitlines():
            record = json.loads(line)
            name = Path(record["path"]).name
            if "error" in record:
                print(f"  {name:16} error: {record['error']}")
            elif "predictions" in record:
                top = record["predictions"][0]
                print(f"  {name:16} {top['label']} ({top['score']:.2f})")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out"))
