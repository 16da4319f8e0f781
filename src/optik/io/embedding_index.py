"""The on-disk index of ``optik embed -o DIR`` (and the face database of ``optik faces enroll``).

A directory of plain files::

    DIR/index.json       the manifest, written last: {"format": "optik-index", "version": 1, "model",
                         "weights_sha256", "dim", "count", "vectors": "vectors-N.npy", "table": "index-N.jsonl",
                         "updated"}
    DIR/vectors-N.npy    float32 [count, dim] (NumPy .npy); row i belongs to line i of the table
    DIR/index-N.jsonl    one JSON object per line: "path" (absolute), "size" (bytes), "mtime_ns", "sha256",
                         "model", then what the producer adds (images: width, height, phash, sharpness; faces:
                         name, box, score)

``N`` counts the index's versions. An update writes the next version's files beside the current ones, then
replaces the manifest (the commit point), then removes the old files: a reader always sees one whole version,
and an interrupted update leaves the previous one intact. One writer at a time: an update holds ``DIR/.lock``.

:class:`IndexUpdate` is the incremental part: an input whose size and modification time match its row is not
read again; one whose time changed but whose sha256 did not keeps its vector; the others are embedded anew;
rows of files that are gone (or, without ``append``, not among the inputs) are dropped.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from optik.errors import UsageError
from optik.io.inputs import InputItem
from optik.io.outputs import write_atomic
from optik.registry.packages import sha256_file

FORMAT, VERSION = "optik-index", 1
MANIFEST = "index.json"
LOCK = ".lock"

Row = dict[str, Any]
#: What a producer makes of one input's result: its rows (without the file facts) and their vectors.
Entries = Callable[[Any, Any], list[tuple[Row, np.ndarray]]]


def file_facts(path: str | Path) -> Row:
    """What identifies a file's contents: absolute path, size, modification time (ns), sha256."""
    info = os.stat(path)
    return {
        "path": os.path.abspath(path),
        "size": info.st_size,
        "mtime_ns": info.st_mtime_ns,
        "sha256": sha256_file(Path(path)),
    }


@dataclass
class Index:
    """Vectors and their table, as one version of an index directory holds them."""

    directory: Path
    model: str
    weights_sha256: str
    rows: list[Row] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    version: int = 0

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    @staticmethod
    def exists(directory: str | Path) -> bool:
        return (Path(directory) / MANIFEST).is_file()

    @classmethod
    def load(cls, directory: str | Path) -> Index:
        """The index in ``directory``; a usage error if there is none or it does not add up."""
        directory = Path(directory)
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            raise UsageError(f"{directory}: not an optik index (no {MANIFEST}); build one with `optik embed … -o DIR`")
        try:
            manifest = json.loads(manifest_path.read_text())
            if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
                raise ValueError(f"format {manifest.get('format')} {manifest.get('version')}")
            vectors = np.load(directory / manifest["vectors"], allow_pickle=False)
            with open(directory / manifest["table"], encoding="utf-8") as table:
                rows = [json.loads(line) for line in table if line.strip()]
        except (OSError, ValueError, KeyError) as exc:
            raise UsageError(f"{directory}: a damaged optik index ({exc}); build it again in a new directory") from None
        count, dim = manifest["count"], manifest["dim"]
        if vectors.shape != (count, dim) or vectors.dtype != np.float32 or len(rows) != count:
            raise UsageError(
                f"{directory}: a damaged optik index ({len(rows)} rows and {vectors.shape} {vectors.dtype} vectors, "
                f"the manifest says {count} x {dim}); build it again in a new directory"
            )
        version = int(Path(manifest["vectors"]).stem.rsplit("-", 1)[-1])
        return cls(directory, manifest["model"], manifest["weights_sha256"], rows, vectors, version)

    def save(self) -> None:
        """Write the next version atomically (see the module docstring) and drop the previous one."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.version += 1
        vectors_name, table_name = f"vectors-{self.version}.npy", f"index-{self.version}.jsonl"
        _write_file(self.directory / vectors_name, lambda out: np.save(out, self.vectors, allow_pickle=False))
        table = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in self.rows).encode()
        _write_file(self.directory / table_name, lambda out: out.write(table))
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "model": self.model,
            "weights_sha256": self.weights_sha256,
            "dim": self.dim,
            "count": len(self.rows),
            "vectors": vectors_name,
            "table": table_name,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_atomic(self.directory / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        for stale in (*self.directory.glob("vectors-*.npy"), *self.directory.glob("index-*.jsonl")):
            if stale.name not in (vectors_name, table_name):
                stale.unlink(missing_ok=True)


def _write_file(path: Path, write: Callable[[BinaryIO], Any]) -> None:
    """``write`` into a temporary file beside ``path``, flushed to disk, then renamed into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class IndexUpdate:
    """Bring the index in ``directory`` up to date with some inputs (``optik embed … -o DIR``).

    :meth:`plan` says which inputs need the model; the pipeline's results for them come to ``__call__`` (the
    run's output stage, on worker threads); :meth:`close` writes the new version. ``entries`` turns one result
    into its rows and vectors. Without ``append`` the index ends up holding exactly the inputs.
    """

    def __init__(self, directory: str | Path, model: str, weights_sha256: str, entries: Entries, append: bool):
        self.directory, self.append, self.entries = Path(directory), append, entries
        if self.directory.exists() and not self.directory.is_dir():
            raise UsageError(f"-o {directory}: not a directory")
        if not Index.exists(self.directory) and any(p.name != LOCK for p in self._contents()):
            raise UsageError(f"-o {directory}: holds other files; give a new or empty directory for the index")
        self._lock_file = self._lock()
        try:
            self.old = Index.load(self.directory) if Index.exists(self.directory) else None
            if self.old is not None and self.old.model != model:
                raise UsageError(
                    f"{directory} holds {self.old.model} vectors: use --model {self.old.model}, or another directory"
                )
        except BaseException:
            self.release()
            raise
        self.model, self.weights_sha256 = model, weights_sha256
        # vectors of other weights (a --weights checkpoint) cannot be reused
        self.reusable = self.old is not None and self.old.weights_sha256 == weights_sha256
        self._old_rows: dict[str, list[int]] = {}
        for position, row in enumerate(self.old.rows if self.old is not None else ()):
            self._old_rows.setdefault(row["path"], []).append(position)
        self._inputs: list[str] = []
        self._kept: dict[str, list[tuple[Row, np.ndarray]]] = {}
        self._new: dict[str, list[tuple[Row, np.ndarray]]] = {}
        self._guard = threading.Lock()
        self.counts = {"added": 0, "updated": 0, "unchanged": 0, "removed": 0}
        self.total = 0

    def _contents(self) -> list[Path]:
        return list(self.directory.iterdir()) if self.directory.is_dir() else []

    def _lock(self) -> BinaryIO:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.directory / LOCK, "wb")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise UsageError(f"{self.directory}: another optik process is updating this index") from None
        return handle

    def release(self) -> None:
        if not self._lock_file.closed:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()

    def plan(self, items: Iterable[InputItem]) -> list[InputItem]:
        """The inputs that need embedding; the others keep their rows (their files are unchanged)."""
        todo = []
        for item in items:
            if not isinstance(item, InputItem) or item.is_stdin:  # stdin, or an image in memory
                raise UsageError(f"{item.source}: only files can go into an index")
            path = os.path.abspath(item.source)
            self._inputs.append(path)
            kept = self._unchanged(path) if os.path.isfile(path) else None  # else its read error is its record
            if kept is None:
                todo.append(item)
            else:
                self._kept[path] = kept
        return todo

    def _unchanged(self, path: str) -> list[tuple[Row, np.ndarray]] | None:
        positions = self._old_rows.get(path)
        if not positions or not self.reusable:
            return None
        row, info = self.old.rows[positions[0]], os.stat(path)
        if info.st_size != row["size"]:
            return None
        if info.st_mtime_ns != row["mtime_ns"] and sha256_file(Path(path)) != row["sha256"]:
            return None
        # unchanged, or touched without a change: its rows and vectors stay, with the file's time now
        return [({**self.old.rows[i], "mtime_ns": info.st_mtime_ns}, self.old.vectors[i]) for i in positions]

    def __call__(self, item: Any, result: Any) -> None:
        facts = {**file_facts(item.source), "model": self.model}
        made = [({**facts, **row}, vector) for row, vector in self.entries(item, result)]
        with self._guard:
            self._new[os.path.abspath(item.source)] = made
        result.index = str(self.directory)

    def close(self) -> Index:
        """Write the updated index (the inputs in order; with ``append``, after the rows kept from before)."""
        try:
            entries: list[tuple[Row, np.ndarray]] = []
            inputs = set(self._inputs)
            if self.append and self.old is not None:
                for path, positions in self._old_rows.items():
                    if path in inputs:
                        continue
                    if not os.path.exists(path) or not self.reusable:
                        self.counts["removed"] += 1
                        continue
                    entries += [(self.old.rows[i], self.old.vectors[i]) for i in positions]
            for path in self._inputs:
                if path in self._kept:
                    self.counts["unchanged"] += 1
                    entries += self._kept[path]
                elif path in self._new:
                    self.counts["updated" if path in self._old_rows else "added"] += 1
                    entries += self._new[path]
            if not self.append:
                self.counts["removed"] += len(self._old_rows.keys() - inputs)
            dim = entries[0][1].shape[0] if entries else (self.old.dim if self.old is not None else 0)
            vectors = (
                np.stack([v for _, v in entries]).astype(np.float32) if entries else np.zeros((0, dim), np.float32)
            )
            index = Index(
                self.directory,
                self.model,
                self.weights_sha256,
                [row for row, _ in entries],
                vectors,
                self.old.version if self.old is not None else 0,
            )
            index.save()
            self.total = len(index)
            return index
        finally:
            self.release()

    def summary(self) -> str:
        """``index/: 3 added, 1 updated, 120 unchanged, 2 removed; 124 files``."""
        parts = ", ".join(f"{n} {what}" for what, n in self.counts.items() if n) or "nothing changed"
        return f"{self.directory}: {parts}; {self.total} file{'s' if self.total != 1 else ''}"
