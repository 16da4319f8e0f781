"""Record writers for stdout: text, json (one array), jsonl (streamed, flushed) and csv.

Every record is a JSON object with the fields of the one schema (``record.schema.json`` beside this
module, versioned by ``SCHEMA_VERSION``, documented in the README). Failures and skipped inputs are
records too: ``{"path", "error"}``, ``{"path", "skipped": true, "output"}``. CSV rows carry the task's
columns, then ``output``, ``check``, ``skipped`` and ``error``.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any, TextIO

SCHEMA_VERSION = 2
SCHEMA_FILE = Path(__file__).resolve().parent / "record.schema.json"
FORMATS = ("text", "json", "jsonl", "csv")
TRAILING_COLUMNS = ("output", "check", "skipped", "error")


#: Control characters in names are shown escaped, so that one record stays one line (``a\\nb.png``).
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(32), 127)} | {9: "\\t", 10: "\\n", 13: "\\r"}


def text_line(path: str, output: str | None, summary: str) -> str:
    """The one pattern of every text record: ``PATH[ -> OUTPUT]<TAB>SUMMARY``."""
    arrow = f" -> {output.translate(_CONTROL)}" if output else ""
    return f"{path.translate(_CONTROL)}{arrow}\t{summary}"


def image_record(result: Any, **fields: Any) -> dict[str, Any]:
    """The one pattern of every image result's record: ``path``, ``model``, the input's ``width`` and
    ``height``, the task's ``fields``, and ``output`` where the output stage wrote the result's image."""
    record = {"path": result.path, "model": result.model, "width": result.width, "height": result.height, **fields}
    if getattr(result, "output", None) is not None:
        record["output"] = result.output
    return record


def result_record(result: Any, provenance: dict[str, str], timing_ms: dict[str, float]) -> dict[str, Any]:
    """The record of one result as every format and the Python API give it: the result's own fields, the
    model's provenance (name, weights sha256, device, dtype) and the time each stage took."""
    return {
        "schema": SCHEMA_VERSION,
        **result.to_record(),
        **provenance,
        "timing_ms": {stage: round(ms, 2) for stage, ms in timing_ms.items()},
    }


class RecordWriter:
    """Writes one record per input in the chosen format."""

    def __init__(
        self, fmt: str, csv_fields: tuple[str, ...] = (), stream: TextIO | None = None, versioned: bool = True
    ):
        """``versioned``: records of the schema carry ``schema`` (model listings do not)."""
        self.fmt, self.versioned = fmt, versioned
        self.stream = stream or sys.stdout
        self._records: list[dict[str, Any]] = []
        self._csv = None
        if fmt == "csv":
            trailing = TRAILING_COLUMNS if versioned else ()
            fields = [*csv_fields, *(name for name in trailing if name not in csv_fields)]
            self._csv = csv.DictWriter(self.stream, fieldnames=fields, extrasaction="ignore")
            self._csv.writeheader()

    def write(self, record: dict[str, Any], text: str | None = None, rows: list[dict[str, Any]] | None = None) -> None:
        """``text``: the human line(s) for text format; ``rows``: the csv rows (default: the record)."""
        if self.versioned:
            record = {"schema": SCHEMA_VERSION, **record}
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "json":
            self._records.append(record)
            return
        elif self.fmt == "csv":
            shared = {name: _csv_value(record.get(name)) for name in TRAILING_COLUMNS if name in record}
            for row in rows if rows is not None else [record]:
                self._csv.writerow({**row, **shared})
        elif text is not None:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            json.dump(self._records, self.stream, indent=2, ensure_ascii=False)
            self.stream.write("\n")
        self.stream.flush()


def _csv_value(value: Any) -> Any:
    """A check becomes ``passed`` or ``failed: REASON``; a flag ``true``."""
    if isinstance(value, dict) and "passed" in value:
        return "passed" if value["passed"] else f"failed: {value.get('reason', '')}"
    if value is True:
        return "true"
    return value
