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
            elif "detections" in record:
                found = ", ".join(f"{d['label']} {d['score']:.2f}" for d in record["detections"]) or "nothing"
                print(f"  {name:16} {found} -> {record['output']}")
            elif "foreground" in record:
                where = f" -> {record['output']}" if "output" in record else ""
                print(f"  {name:16} {record['model']}: foreground {record['foreground']:.2f}{where}")
            elif "style" in record:
                style = record["style"]
                what = style.get("name") or style.get("image") or " + ".join(w["name"] for w in style["weights"])
                print(f"  {name:16} {what} -> {record['output']}")
            elif "operations" in record:
                steps = ", ".join([f"{record['model']} ×{record['scale']:g}", *record["operations"]])
                size = f"{record['output_width']}×{record['output_height']}"
                print(f"  {name:16} {steps} -> {size} {record['output']}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "out"))
