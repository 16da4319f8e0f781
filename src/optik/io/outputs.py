"""Output paths (``-o FILE``, ``-o DIR``, ``-o -``) and atomic writes that never touch an input."""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from optik.errors import InputError, UsageError
from optik.io.inputs import InputItem
from optik.preprocess.decode import IMAGE_EXTENSIONS, Image, encode

STDOUT = "-"


@dataclass(frozen=True)
class OutputPlan:
    """Where each input's output image goes.

    ``target`` is a file for a single input, a directory (mirroring relative input paths) for
    several, or ``-`` for stdout. ``suffix`` forces an extension (e.g. ".png" for RGBA cut-outs).
    """

    target: str
    many: bool
    suffix: str | None = None
    overwrite: bool = False
    skip_existing: bool = False

    @classmethod
    def create(
        cls,
        target: str,
        items: list[InputItem],
        suffix: str | None = None,
        overwrite: bool = False,
        skip_existing: bool = False,
    ) -> OutputPlan:
        many = len(items) > 1 or target.endswith(os.sep) or Path(target).is_dir()
        if target == STDOUT and len(items) > 1:
            raise UsageError("-o - writes one image to stdout; give a directory for several inputs")
        if overwrite and skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other")
        return cls(target, many and target != STDOUT, suffix, overwrite, skip_existing)

    @property
    def to_stdout(self) -> bool:
        return self.target == STDOUT

    def path_for(self, item: InputItem) -> Path:
        if not self.many:
            path = Path(self.target)
            return path.with_suffix(self.suffix) if self.suffix and not path.suffix else path
        relative = item.relative if not self.suffix else item.relative.with_suffix(self.suffix)
        return Path(self.target) / relative

    def should_skip(self, item: InputItem) -> bool:
        return self.skip_existing and not self.to_stdout and self.path_for(item).exists()

    def refuse_early(self, item: InputItem) -> None:
        """:meth:`check` the output path before any work is spent on ``item``."""
        if not self.to_stdout:
            self.check(item, self.path_for(item))

    def check(self, item: InputItem, path: Path) -> None:
        """Refuse to replace an input, or an existing file without ``--overwrite``."""
        if not item.is_stdin and path.exists() and os.path.samefile(path, item.source):
            raise InputError(f"{item.source}: the output {path} is the input itself; choose another -o")
        if path.exists() and not self.overwrite:
            raise InputError(f"{path}: exists (use --overwrite to replace it, --skip-existing to keep it)")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_output(plan: OutputPlan, item: InputItem, data: bytes) -> str:
    """Write one output image; return where it went (``-`` for stdout)."""
    if plan.to_stdout:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return STDOUT
    path = plan.path_for(item)
    plan.check(item, path)
    write_atomic(path, data)
    return str(path)


def image_extension(path: str | Path) -> str:
    """The encoder for an output path: its own image extension, PNG otherwise."""
    suffix = Path(path).suffix.lower()
    return suffix if suffix in IMAGE_EXTENSIONS else ".png"


def write_image(plan: OutputPlan, item: InputItem, image: Image, stdout: BinaryIO | None = None) -> str:
    """Encode ``image`` for where ``plan`` sends it and write it: PNG on stdout (``stdout`` is the real one
    when the records were redirected to stderr), else the output path's own format, atomically."""
    if plan.to_stdout:
        stream = stdout or sys.stdout.buffer
        stream.write(encode(image, ".png"))
        stream.flush()
        return STDOUT
    return write_output(plan, item, encode(image, image_extension(plan.path_for(item))))
