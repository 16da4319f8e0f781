"""Record writers for stdout: text, json (one array), jsonl (streamed, flushed) and csv.

Every record is a flat JSON object; the schema is versioned by ``SCHEMA_VERSION`` and documented
in the README. Failures are records too: ``{"path", "error"}``.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any, TextIO

SCHEMA_VERSION = 1
FORMATS = ("text", "json", "jsonl", "csv")


class RecordWriter:
    """Writes one record per image in the chosen format."""

    def __init__(self, fmt: str, csv_fields: tuple[str, ...] = (), stream: TextIO | None = None):
        self.fmt = fmt
        self.stream = stream or sys.stdout
        self._records: list[dict[str, Any]] = []
        self._csv = None
        if fmt == "csv":
            self._csv = csv.DictWriter(self.stream, fieldnames=[*csv_fields, "error"], extrasaction="ignore")
            self._csv.writeheader()

    def write(self, record: dict[str, Any], text: str | None = None, rows: list[dict[str, Any]] | None = None) -> None:
        """``text``: the human line(s) for text format; ``rows``: the csv rows (default: the record)."""
        record = {"schema": SCHEMA_VERSION, **record}
        if self.fmt == "jsonl":
            self.stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        elif self.fmt == "json":
            self._records.append(record)
            return
        elif self.fmt == "csv":
            for row in rows if rows is not None else [record]:
                self._csv.writerow(row)
        elif text is not None:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            json.dump(self._records, self.stream, indent=2, ensure_ascii=False)
            self.stream.write("\n")
        self.stream.flush()
