"""Output paths (``-o FILE``, ``-o DIR``, ``-o -``) and atomic writes that never touch an input."""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from optik.errors import InputError, UsageError
from optik.io.inputs import InputItem
from optik.preprocess.headers import OUTPUT_EXTENSIONS

if TYPE_CHECKING:
    from optik.preprocess.decode import Image

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
    keep_extension: frozenset[str] = frozenset()  # inputs whose forced suffix would collide: NAME.jpg.png

    @classmethod
    def create(
        cls,
        target: str,
        items: list[InputItem],
        suffix: str | None = None,
        overwrite: bool = False,
        skip_existing: bool = False,
    ) -> OutputPlan:
        """The plan for ``items``; usage errors for what cannot work, before any image is touched."""
        if overwrite and skip_existing:
            raise UsageError("--overwrite and --skip-existing contradict each other")
        if target == STDOUT:
            if len(items) > 1:
                raise UsageError("-o - writes one image to stdout; give a directory for several inputs")
            if sys.stdout.isatty():
                raise UsageError("-o - would write image data to the terminal; pipe it or redirect it to a file")
            return cls(target, False, suffix, overwrite, skip_existing)
        looks_like_a_file = Path(target).suffix.lower() in OUTPUT_EXTENSIONS
        many = target.endswith(os.sep) or Path(target).is_dir() or (len(items) > 1 and not looks_like_a_file)
        if len(items) > 1 and not many:
            raise UsageError(f"-o {target}: {len(items)} inputs need a directory, not one image file")
        keep: set[str] = set()
        if many and suffix:
            stems: dict[Path, list[InputItem]] = {}
            for item in items:
                stems.setdefault(item.relative.with_suffix(suffix), []).append(item)
            keep = {item.source for group in stems.values() if len(group) > 1 for item in group}
        return cls(target, many, suffix, overwrite, skip_existing, frozenset(keep))

    @property
    def to_stdout(self) -> bool:
        return self.target == STDOUT

    def path_for(self, item: InputItem) -> Path:
        if not self.many:
            path = Path(self.target)
            return path.with_suffix(self.suffix) if self.suffix and not path.suffix else path
        relative = item.relative
        if self.suffix:
            relative = (
                relative.with_name(relative.name + self.suffix)
                if item.source in self.keep_extension
                else relative.with_suffix(self.suffix)
            )
        return Path(self.target) / relative

    def outside(self, items: list[InputItem]) -> list[InputItem]:
        """``items`` without the files below the output directory (optik's own outputs, when ``-o`` lies
        inside an input folder)."""
        if not self.many:
            return items
        target = os.path.realpath(self.target)
        return [
            item for item in items if item.is_stdin or not os.path.realpath(item.source).startswith(target + os.sep)
        ]

    def should_skip(self, item: InputItem) -> bool:
        return self.skip_existing and not self.to_stdout and self.path_for(item).exists()

    def refuse_early(self, item: InputItem) -> None:
        """:meth:`check` the output path before any work is spent on ``item``."""
        if not self.to_stdout:
            self.check(item, self.path_for(item))

    def check(self, item: InputItem, path: Path) -> None:
        """Refuse a path outside the output directory, an input, or an existing file without ``--overwrite``."""
        if self.many and not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(self.target)):
            raise InputError(f"{item.source}: the output {path} would leave {self.target}; refused")
        if not item.is_stdin and path.exists() and os.path.samefile(path, item.source):
            raise InputError(f"{item.source}: the output {path} is the input itself; choose another -o")
        if path.exists() and not self.overwrite:
            raise InputError(f"{path}: exists (use --overwrite to replace it, --skip-existing to keep it)")


def _temporary_prefix(path: Path) -> str:
    """A short hidden name for ``path``'s temporary file (long names must not overflow NAME_MAX)."""
    return f".optik-{hashlib.sha256(path.name.encode('utf-8', 'surrogateescape')).hexdigest()[:16]}-"


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it into place; a temporary file that an
    interrupted run left for the same name is removed first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = _temporary_prefix(path)
    for stale in path.parent.glob(f"{prefix}*.part"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(directory: Path) -> None:
    """Raise :class:`UsageError` unless files can be created in ``directory`` (or, if it does not exist
    yet, in its nearest existing parent): a read-only or full target is found before any image is worked
    on, and nothing is created to find out."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{directory}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{directory}: cannot write there ({existing} is not writable)")
    try:
        full = os.statvfs(existing).f_bavail == 0
    except OSError:
        full = False
    if full:
        raise UsageError(f"{directory}: cannot write there (no space left on the device)")


def _encode(image: Image, extension: str) -> bytes:
    from optik.preprocess.decode import encode  # OpenCV: only once something is written

    return encode(image, extension)


def write_output(plan: OutputPlan, item: InputItem, path: Path, image: Image) -> str:
    """Write ``item``'s output ``image`` to ``path`` (refusing an input or, without ``--overwrite``, an
    existing file), encoded for its extension; return where it went."""
    plan.check(item, path)
    write_atomic(path, _encode(image, path.suffix))
    return str(path)


def image_path(path: Path) -> Path:
    """``path``, or with ``.png`` added when its name has no image extension (stdin, an input named ``photo``)."""
    return path if path.suffix.lower() in OUTPUT_EXTENSIONS else path.with_name(path.name + ".png")


def save_image(image: Image, path: Path) -> Path:
    """Encode ``image`` in the format of ``path``'s extension (PNG without one) and write it atomically."""
    path = image_path(path)
    write_atomic(path, _encode(image, path.suffix))
    return path


def crop_path(base: Path, position: int, label: str) -> Path:
    """Where ``--crops`` puts an image's detection number ``position``: ``NAME.NN.LABEL.EXT`` beside ``base``."""
    return base.with_name(f"{base.stem}.{position:02d}.{label.replace(' ', '-')}{base.suffix}")


class OutputStage:
    """Writes what a run asks for beside its records, called for each result on the pipeline's worker
    threads: the rendered image (``-o FILE|DIR|-``; PNG on stdout), the detections' crops (below a
    directory, ``NAME.NN.LABEL.EXT``) and training labels (YOLO or COCO). It sets ``result.output`` and
    each detection's ``crop`` to where they went. Tasks never write: they render on demand."""

    def __init__(
        self,
        images: OutputPlan | None = None,
        render: Callable[[Any], Image] | None = None,
        crops: OutputPlan | None = None,
        labels: Any = None,
        stdout: BinaryIO | None = None,
    ):
        self.images, self.crops, self.labels = images, crops, labels
        self.render = render or (lambda result: result.render())
        self.stdout = stdout or sys.stdout.buffer  # the real stdout for -o -, while the records go to stderr

    def __call__(self, item: InputItem, result: Any) -> None:
        if self.images is not None:
            result.output = self._write_image(item, self.render(result))
        if self.crops is not None:
            base = image_path(self.crops.path_for(item))
            for position, detection, crop in result.crops():
                path = crop_path(base, position, detection.label)
                self.crops.check(item, path)
                write_atomic(path, _encode(crop, path.suffix))
                detection.crop = str(path)
        if self.labels is not None:
            self.labels.add(item, result)

    def _write_image(self, item: InputItem, image: Image) -> str:
        if self.images.to_stdout:
            self.stdout.write(_encode(image, ".png"))
            self.stdout.flush()
            return STDOUT
        return write_output(self.images, item, image_path(self.images.path_for(item)), image)

    def close(self) -> None:
        """Finish what is written once at the end (a COCO document)."""
        if self.labels is not None:
            self.labels.close()
