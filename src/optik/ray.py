"""Any optik task on Ray Data: a Dataset of images in, a Dataset of optik records out (``optik[ray]``).

The stages are the local engine's. Each actor of a ``map_batches`` pool binds its model once with
:func:`optik.tasks.create_task` and runs every batch it is given through :func:`optik.pipeline.run`, so
decoding, prepare / forward / finish, skips and refusals are the same code, and outputs are rendered and
named by the same functions as the local :class:`~optik.io.outputs.OutputStage`; Ray only moves rows
between machines, restarts dead actors and retries their batches.

Images, detection crops and YOLO label files go where the local engine puts them, under the same names:
below a local directory or any pyarrow filesystem URI (``s3://``, ``gs://``, ``file://``), each written
whole or not at all — a hidden temporary file renamed into place where the filesystem renames atomically
(local disks), else one object upload (object stores show an object only once its upload is complete).
Outputs that existed before the run are listed once, on the driver, and decide ``--skip-existing`` and the
refusal without ``--overwrite``; an output that appears during the run is this run's own (a batch retried
after its actor died) and is replaced, so every input is processed exactly once whatever Ray retries. A
COCO document, one file for the whole run, is gathered from the records by the driver.

Importing optik never imports this module, nor ray.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import numpy as np
import ray.data  # binds `ray` too (a bare `import ray` reads as bench/ray.py to ruff's isort)
from pyarrow import fs as pafs
from ray.data.block import BlockAccessor
from ray.data.datasource import BlockBasedFileDatasink

from optik import pipeline
from optik.errors import InputError, UsageError
from optik.io.inputs import DEFAULT_MAX_FILE_SIZE, URI_SCHEME, InputItem, is_image_name, is_uri, size_text
from optik.io.labels import CLASSES_FILE, CocoLabels, yolo_text
from optik.io.memory import MemoryItem
from optik.io.outputs import OutputPlan, OutputStage, check_writable, crop_path, image_path, write_atomic
from optik.io.records import SCHEMA_VERSION, result_record, text_line
from optik.preprocess.decode import DEFAULT_MAX_PIXELS, Image, decode, encode

#: The columns of a record Dataset: the input, what happened to it (processed, failed or skipped), its
#: record (JSON, exactly as ``--format jsonl`` writes it), its text line and its CSV rows (JSON).
COLUMNS = ("path", "status", "record", "text", "csv")


def connect(**init_args: Any) -> None:
    """Join Ray once per process: the cluster at ``RAY_ADDRESS`` when it is set (Ray's own convention),
    otherwise a Ray started here. ``init_args`` go to :func:`ray.init` (e.g. ``num_cpus=2``)."""
    if not ray.is_initialized():
        ray.init(**init_args)


# --- inputs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UriItem:
    """An input named by a URI that pyarrow understands, read (at most ``max_file_size`` bytes) when the
    pipeline loads it and decoded as a local file is."""

    source: str
    relative: Path
    max_file_size: int = DEFAULT_MAX_FILE_SIZE

    is_stdin = False

    def load(self, max_pixels: int, min_side: int | None) -> Image:
        return decode(_read_uri(self.source, self.max_file_size), self.source, max_pixels, min_side)


def _read_uri(uri: str, max_size: int) -> bytes:
    try:
        filesystem, path = pafs.FileSystem.from_uri(uri)
        with filesystem.open_input_file(path) as stream:
            size = stream.size()
            data = stream.read() if size <= max_size else None
    except FileNotFoundError:
        raise InputError(f"{uri}: no such file") from None
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"{uri}: cannot read ({exc})") from None
    if data is None:
        raise InputError(
            f"{uri}: {size_text(size)} is over the file size limit of {size_text(max_size)} "
            "(raise it with --max-file-size)"
        )
    return data


def list_uris(
    uris: Iterable[str], recursive: bool = False, max_file_size: int = DEFAULT_MAX_FILE_SIZE
) -> list[UriItem]:
    """The inputs that URIs name, as :func:`optik.io.inputs.discover` finds local ones: a file is itself
    (named by its file name below an output directory); a directory or prefix gives its image files, sorted,
    mirrored below an output directory (``recursive``: below sub-directories too, hidden ones aside). One
    listing per URI, on the driver; a URI that names nothing is an input whose read fails (an error record)."""
    items: list[UriItem] = []
    for uri in uris:
        try:
            filesystem, path = pafs.FileSystem.from_uri(uri)
        except (OSError, ValueError) as exc:  # an unknown scheme, a bucket in no region …
            raise UsageError(f"{uri}: {exc}") from None
        if filesystem.get_file_info(path).type != pafs.FileType.Directory:
            items.append(UriItem(uri, Path(PurePosixPath(path).name), max_file_size))
            continue
        base = path.rstrip("/")
        found = filesystem.get_file_info(pafs.FileSelector(base, recursive=recursive))
        for info in sorted(found, key=lambda info: info.path):
            relative = PurePosixPath(info.path[len(base) + 1 :])
            hidden = any(part.startswith(".") for part in relative.parts[:-1])
            if info.type == pafs.FileType.File and is_image_name(relative.name) and not hidden:
                items.append(UriItem(f"{uri.rstrip('/')}/{relative}", Path(relative), max_file_size))
    return items


@dataclass(frozen=True)
class _PixelsItem:
    """A row that Ray decoded already (``read_images``): its pixels, checked as an array from the Python API is."""

    source: str
    relative: Path
    pixels: np.ndarray

    is_stdin = False

    def load(self, max_pixels: int, min_side: int | None) -> Image:
        return MemoryItem(self.source, self.relative, Image.from_array(self.pixels, self.source)).load(max_pixels, None)


def _relative(path: str, root: str | None) -> Path:
    """Where a Dataset row's outputs go below an output directory: its path below ``root``, or (no root, or
    a path outside it) the whole path, so that two inputs never share an output."""
    plain = PurePosixPath(URI_SCHEME.sub("", path).lstrip("/"))
    if root is not None:
        base = PurePosixPath(URI_SCHEME.sub("", root).lstrip("/"))
        if plain.is_relative_to(base) and plain != base:
            return Path(plain.relative_to(base))
    return Path(plain)


def _batch_items(batch: dict[str, np.ndarray], root: str | None) -> list[Any]:
    """The pipeline inputs of one batch of rows: ``bytes`` (``read_binary_files``: decoded by optik, as
    locally), ``image`` (``read_images``), or only ``path`` (a local file or a URI, read on the worker);
    ``relative`` and ``max_file_size`` columns, when present, say what the driver's listing found."""
    items: list[Any] = []
    for index, path in enumerate(batch["path"]):
        path = str(path)
        relative = Path(str(batch["relative"][index])) if "relative" in batch else _relative(path, root)
        limit = int(batch["max_file_size"][index]) if "max_file_size" in batch else DEFAULT_MAX_FILE_SIZE
        if "bytes" in batch:
            items.append(MemoryItem(path, relative, data=bytes(batch["bytes"][index])))
        elif "image" in batch:
            items.append(_PixelsItem(path, relative, np.asarray(batch["image"][index])))
        elif is_uri(path):
            items.append(UriItem(path, relative, limit))
        else:
            items.append(InputItem(path, relative, limit))
    return items


# --- outputs ------------------------------------------------------------------------------------------


class OutputTarget:
    """Where one kind of a Ray run's outputs goes (images, crops or label files): its :class:`OutputPlan` — a
    local directory or file, or a directory URI — and the files that were there when the run was set up."""

    def __init__(self, plan: OutputPlan, existing: frozenset[str] = frozenset()):
        self.plan, self.existing = plan, existing

    @classmethod
    def prepare(cls, plan: OutputPlan) -> OutputTarget:
        """Check that the target can be written and list what is there already."""
        if plan.to_stdout:
            raise UsageError("-o - writes one image to stdout; give a directory to run on Ray")
        if is_uri(plan.target) and not plan.many:
            raise UsageError(f"-o {plan.target}: a URI output is a directory; end it with /")
        target = cls(plan)
        target.existing = target._probe_and_list()
        return target

    @property
    def remote(self) -> bool:
        return is_uri(self.plan.target)

    @property
    def root(self) -> str:
        """The directory the outputs go below: the target directory, or the folder of a single output file."""
        return self.plan.target if self.plan.many else str(Path(self.plan.target).parent)

    @cached_property
    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """The pyarrow filesystem of a URI target, and the root's path on it."""
        filesystem, path = pafs.FileSystem.from_uri(self.root)
        return filesystem, path.rstrip("/")

    def name_of(self, relative: PurePosixPath | Path) -> str:
        """The name of the file at ``relative`` below :attr:`root`, as records name it."""
        if self.remote:
            return f"{self.root.rstrip('/')}/{PurePosixPath(relative)}"
        return str(Path(self.root) / relative)

    def relative(self, item: Any) -> Path:
        """The plan's path for ``item`` relative to :attr:`root` (the same names, suffixes and collision rules)."""
        target = "." if self.plan.many else Path(self.plan.target).name
        return replace(self.plan, target=target).path_for(item)

    def name(self, item: Any) -> str:
        """The plan's output for ``item``, as records name it."""
        return self.name_of(self.relative(item))

    def _probe_and_list(self) -> frozenset[str]:
        if not self.remote:
            check_writable(Path(self.root))
            if self.plan.many:
                found = (Path(folder) / name for folder, _, names in os.walk(self.root) for name in names)
            else:
                found = (path for path in Path(self.root).iterdir() if path.is_file())
            return frozenset(map(str, found))
        filesystem, base = self.filesystem
        probe = f"{base}/.optik-probe-{os.urandom(8).hex()}"
        try:
            if filesystem.type_name == "local":
                filesystem.create_dir(base, recursive=True)
            with filesystem.open_output_stream(probe) as stream:
                stream.write(b"")
            filesystem.delete_file(probe)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{self.plan.target}: cannot write there ({exc})") from None
        found = filesystem.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        return frozenset(
            self.name_of(PurePosixPath(info.path[len(base) + 1 :])) for info in found if info.type == pafs.FileType.File
        )

    def read(self, relative: Path) -> bytes | None:
        """The file at ``relative`` below the root, if it was there when the run was set up."""
        name = self.name_of(relative)
        if name not in self.existing:
            return None
        if not self.remote:
            return Path(name).read_bytes()
        filesystem, base = self.filesystem
        with filesystem.open_input_file(f"{base}/{PurePosixPath(relative)}") as stream:
            return stream.read()

    def refuse(self, item: Any) -> None:
        """Before ``item`` is decoded: its output existed before the run and there is no ``--overwrite``, or it
        is the input itself."""
        self._refuse(item, self.name(item))
        if not self.remote and isinstance(item, InputItem):
            self._writing_plan.refuse_early(item)

    def _refuse(self, item: Any, name: str) -> None:
        if name in self.existing and not self.plan.overwrite:
            raise InputError(f"{name}: exists (use --overwrite to replace it, --skip-existing to keep it)")
        if name == item.source:
            raise InputError(f"{item.source}: the output {name} is the input itself; choose another -o")

    @property
    def _writing_plan(self) -> OutputPlan:
        """The plan the actors write with: what existed was settled by :meth:`refuse`, so a file found now is
        this run's own (a retried batch) and is replaced."""
        return replace(self.plan, overwrite=True, skip_existing=False)

    def publish(self, item: Any, relative: Path, data: bytes) -> str:
        """Put ``item``'s output ``data`` at ``relative`` below :attr:`root` — never over an input, nor over a
        file that existed before the run without ``--overwrite`` — and return its name."""
        name = self.name_of(relative)
        self._refuse(item, name)
        if not self.remote and isinstance(item, InputItem):
            self._writing_plan.check(item, Path(self.root) / relative)  # inside the directory, not the input
        self.write(relative, data)
        return name

    def write(self, relative: Path, data: bytes) -> None:
        """Write ``data`` at ``relative`` below :attr:`root`, whole or not at all."""
        if not self.remote:
            write_atomic(Path(self.root) / relative, data)
            return
        filesystem, base = self.filesystem
        path = f"{base}/{PurePosixPath(relative)}"
        if filesystem.type_name == "local":  # a hidden temporary file beside it, renamed into place
            folder, file_name = path.rsplit("/", 1)
            filesystem.create_dir(folder, recursive=True)
            digest = hashlib.sha256(file_name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
            temporary = f"{folder}/.optik-{digest}.part"  # short; a retried batch writes the same one again
            with filesystem.open_output_stream(temporary) as stream:
                stream.write(data)
            filesystem.move(temporary, path)
        else:  # an object store: the object appears only once the whole upload is done
            with filesystem.open_output_stream(path) as stream:
                stream.write(data)


class RayOutputs:
    """The output stage of a Ray run: what :class:`OutputStage` writes locally — the rendered images
    (``-o``), the detections' crops (``--crops``) and YOLO label files (``--labels-out DIR``) — under the
    same names, each below its own :class:`OutputTarget`.

    Made on the driver (:meth:`prepare`), then called by the actors: :meth:`skip` and :meth:`refuse` before
    an input is decoded, the instance itself (the pipeline's ``deliver``) with each result."""

    def __init__(
        self,
        images: OutputTarget | None,
        render: Callable[[Any], Image],
        crops: OutputTarget | None = None,
        labels: OutputTarget | None = None,
    ):
        self.images, self.render, self.crops, self.labels = images, render, crops, labels

    @classmethod
    def prepare(cls, stage: OutputStage) -> RayOutputs | None:
        """The targets of ``stage``, checked and listed; None when it writes nothing. A COCO document is one
        file for the whole run: gather it from the records (:meth:`CocoLabels.add_record`)."""
        if isinstance(stage.labels, CocoLabels):
            raise UsageError("a COCO document is gathered from the records on Ray; write yolo labels (a directory)")
        targets = [OutputTarget.prepare(plan) if plan else None for plan in (stage.images, stage.crops)]
        labels = OutputTarget.prepare(stage.labels.plan) if stage.labels is not None else None
        if labels is not None:  # classes.txt, as YoloLabels writes it locally
            classes, relative = stage.labels.classes_text.encode(), Path(CLASSES_FILE)
            found = labels.read(relative)
            if found not in (None, classes) and not labels.plan.overwrite:
                name = labels.name_of(relative)
                raise UsageError(f"{name}: exists with other classes (use --overwrite to replace it)")
            if found != classes:
                labels.write(relative, classes)
            labels.existing |= {labels.name_of(relative)}  # an input named classes.* is refused, as locally
        if targets == [None, None] and labels is None:
            return None
        return cls(targets[0], stage.render, targets[1], labels)

    def skip(self, item: Any) -> bool:
        """``--skip-existing``: the image output existed before the run."""
        images = self.images
        return images is not None and images.plan.skip_existing and images.name(item) in images.existing

    def refuse(self, item: Any) -> None:
        if self.images is not None:
            self.images.refuse(item)

    def name(self, item: Any) -> str | None:
        """Where ``item``'s image output goes, as records name it."""
        return self.images.name(item) if self.images is not None else None

    def __call__(self, item: Any, result: Any) -> None:
        if self.images is not None:
            relative = image_path(self.images.relative(item))
            result.output = self.images.publish(item, relative, encode(self.render(result), relative.suffix))
        if self.crops is not None:
            base = image_path(self.crops.relative(item))
            for position, detection, crop in result.crops():
                relative = crop_path(base, position, detection.label)
                detection.crop = self.crops.publish(item, relative, encode(crop, relative.suffix))
        if self.labels is not None:
            self.labels.publish(item, self.labels.relative(item), yolo_text(result).encode())


# --- the actors ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """Everything an actor needs, sent once to each."""

    task: str
    settings: Any
    model: str
    device: str
    half: bool
    weights: str | None
    outputs: RayOutputs | None
    check: Callable[[Any], str | None] | None
    batch_size: int
    max_pixels: int
    cpus: int
    gpus: float
    root: str | None

    @property
    def threads(self) -> tuple[int, int]:
        """torch's threads and the pipeline's decode workers within the actor's CPUs: the local rule (one
        worker per four CPUs, torch the rest) on CPUs; on a GPU the CPUs decode, and one is left to torch."""
        if self.gpus:
            return 1, max(1, self.cpus - 1)
        workers = min(4, max(1, self.cpus // 4))
        return max(1, self.cpus - workers), workers


class _TaskActor:
    """One actor of the pool: the model loaded once, each batch of rows run through the local pipeline."""

    def __init__(self, job: _Job):
        import torch

        from optik.tasks import create_task

        self.job = job
        torch.set_num_threads(job.threads[0])
        self.task = create_task(job.task, job.settings, job.model, job.device, job.half, job.weights)
        self.provenance = self.task.model.provenance()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        job, outputs = self.job, self.job.outputs
        items = _batch_items(batch, job.root)
        outcomes = pipeline.run(
            self.task,
            items,
            job.batch_size,
            job.threads[1],
            job.max_pixels,
            outputs.skip if outputs else None,
            outputs.refuse if outputs else None,
            outputs,
        )
        rows = [self._row(outcome) for outcome in outcomes]
        return {column: [row[index] for row in rows] for index, column in enumerate(COLUMNS)}

    def _row(self, outcome: pipeline.Outcome) -> tuple[str, str, str, str | None, str]:
        """One input's row, with the record, text line and CSV rows that the local engine writes for it."""
        source = outcome.item.source
        if outcome.skipped:
            output = self.job.outputs.name(outcome.item)
            record = {"path": source, "skipped": True, "output": output}
            text = text_line(source, output, "skipped: the output exists")
            return _packed(source, "skipped", record, text, [{"path": source}])
        if outcome.error is not None:
            record = {"path": source, "error": outcome.error}
            return _packed(source, "failed", record, None, [record])
        result = outcome.result
        record = result_record(result, self.provenance, outcome.timing_ms)
        if self.job.check is not None:
            reason = self.job.check(result)
            record["check"] = {"passed": reason is None, **({"reason": reason} if reason else {})}
        return _packed(source, "processed", record, result.to_text(), result.csv_rows())


def _packed(
    source: str, status: str, record: dict, text: str | None, csv_rows: list[dict]
) -> tuple[str, str, str, str | None, str]:
    """A row of :data:`COLUMNS`; the record as the local engine's writer prints it (``schema`` first)."""
    record = json.dumps({"schema": SCHEMA_VERSION, **record}, ensure_ascii=False)
    return source, status, record, text, json.dumps(csv_rows, ensure_ascii=False, default=str)


def records(
    dataset: ray.data.Dataset,
    task: str,
    settings: Any,
    model: str | None = None,
    *,
    device: str = "auto",
    half: bool = False,
    weights: str | None = None,
    stage: OutputStage | None = None,
    check: Callable[[Any], str | None] | None = None,
    batch_size: int = 8,
    concurrency: int | tuple[int, int] = 1,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    root: str | None = None,
) -> ray.data.Dataset:
    """``dataset``'s images as a Dataset of optik records (columns :data:`COLUMNS`), by ``task``'s adapter
    for ``model`` (None: the task's default, chosen here on the driver) with ``settings``.

    Rows are those of ``ray.data.read_binary_files(…, include_paths=True)`` (decoded by optik, as
    locally: the same answers), ``ray.data.read_images(…, include_paths=True)`` (decoded by Ray), or
    ``path`` alone (a local file every worker sees, or a URI). ``stage``: an :class:`OutputStage` whose
    images, crops and YOLO labels go to local directories or directory URIs; each row's outputs go below
    them at its path below ``root`` (default: the whole path), or at a ``relative`` column.
    ``concurrency`` actors (or a ``(min, max)`` autoscaling pool), each with ``num_cpus`` CPUs and
    ``num_gpus`` GPUs, load the model once; ``batch_size`` rows go to an actor at a time and through the
    model together (``half``: fp16 on CUDA; channels-last where the model uses it, as locally).
    """
    from optik.registry import default_model, get_spec

    spec = get_spec(model, task) if model else default_model(task)
    settings.check(spec)  # a usage error now, not in every actor
    outputs = RayOutputs.prepare(stage) if stage is not None else None
    job = _Job(
        task,
        settings,
        spec.name,
        device,
        half,
        str(weights) if weights else None,
        outputs,
        check,
        batch_size,
        max_pixels,
        max(1, int(num_cpus)),
        num_gpus,
        root,
    )
    pool = (
        ray.data.ActorPoolStrategy(size=concurrency)
        if isinstance(concurrency, int)
        else ray.data.ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    )
    return dataset.map_batches(
        _TaskActor,
        fn_constructor_args=(job,),
        batch_size=batch_size,
        batch_format="numpy",
        compute=pool,
        num_cpus=num_cpus,
        num_gpus=num_gpus or None,
    )


# --- the command line's engine ------------------------------------------------------------------------


def actor_resources(actors: int, threads: int | None, device: str) -> tuple[float, float]:
    """The CPUs and GPUs of each of ``actors`` actors: ``threads`` CPUs when given, else an equal share of
    a local Ray's CPUs (one each on a cluster, whose nodes differ); a GPU each when ``device`` is CUDA (or
    ``auto`` and the cluster has GPUs)."""
    connect()
    resources = ray.cluster_resources()
    gpus = 1.0 if device.startswith("cuda") or (device == "auto" and resources.get("GPU", 0) >= 1) else 0.0
    if threads:
        return float(threads), gpus
    if os.environ.get("RAY_ADDRESS"):
        return 1.0, gpus
    return max(1.0, resources.get("CPU", 1) // actors), gpus


def unwrapped(rows: Iterable[RecordRow]) -> Iterator[RecordRow]:
    """``rows``, with an optik error that an actor raised (a model that is not there, a bad setting)
    re-raised as itself: one line and its exit code, as locally, rather than Ray's traceback."""
    from ray.exceptions import RayTaskError

    from optik.errors import OptikError

    try:
        yield from rows
    except RayTaskError as exc:
        cause = exc.cause if isinstance(exc.cause, OptikError) else None
        if cause is None:
            raise
        raise cause from None


class RecordRow(NamedTuple):
    """One input's outcome as the command line writes it: the record, its text line, its CSV rows."""

    path: str
    status: str  # processed, failed or skipped
    record: dict[str, Any]
    text: str | None
    csv_rows: list[dict[str, Any]]

    @classmethod
    def of(cls, row: dict[str, Any]) -> RecordRow:
        return cls(row["path"], row["status"], json.loads(row["record"]), row["text"], json.loads(row["csv"]))

    @property
    def check_failed(self) -> str | None:
        """Why the result failed the run's check (``--expect`` …), or None."""
        check = self.record.get("check")
        return check.get("reason", "failed") if check and not check["passed"] else None


class _RecordParts(BlockBasedFileDatasink):
    """``--records DIR``: one part per write task — JSON Lines (the records, one a line) or Parquet (path,
    status and the record as JSON) — and, back on the driver, the counts and the rows to tell on stderr."""

    def __init__(self, directory: str, file_format: str):
        super().__init__(directory, file_format=file_format)
        self.counts: Counter[str] = Counter()
        self.notable: list[RecordRow] = []

    def write_block_to_file(self, block: BlockAccessor, file: Any) -> None:
        table = block.to_arrow()
        if self.file_format == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table.select(["path", "status", "record"]), file)
        else:
            file.write("".join(f"{line}\n" for line in table.column("record").to_pylist()).encode())

    def write(self, blocks: Iterable[Any], ctx: Any) -> tuple[Counter[str], list[RecordRow]]:
        blocks = list(blocks)
        super().write(blocks, ctx)
        counts: Counter[str] = Counter()
        notable = []
        for block in blocks:
            for row in map(RecordRow.of, BlockAccessor.for_block(block).to_arrow().to_pylist()):
                counts[row.status] += 1
                if row.status == "failed" or row.check_failed:
                    notable.append(row)
        return counts, notable

    def on_write_complete(self, write_result: Any) -> None:
        super().on_write_complete(write_result)
        for counts, notable in write_result.write_returns:
            self.counts.update(counts)
            self.notable.extend(notable)


class RayRun:
    """A command's run on Ray: iterate for the rows (any order) — every input's, or with ``records_dir``
    only the failed ones and failed checks (the rest went to the parts); :attr:`counts` (``processed``,
    ``failed``, ``skipped``, ``checks_failed``) is complete once the iteration is over."""

    def __init__(self, dataset: ray.data.Dataset, records_dir: str | None, records_format: str):
        self.dataset, self.records_dir, self.records_format = dataset, records_dir, records_format
        self.counts: Counter[str] = Counter()

    def __iter__(self) -> Iterator[RecordRow]:
        if self.records_dir is None:
            rows: Iterable[RecordRow] = (RecordRow.of(row) for row in self.dataset.iter_rows())
        else:
            parts = _RecordParts(self.records_dir, self.records_format)
            self.dataset.write_datasink(parts)
            self.counts.update(parts.counts)
            rows = parts.notable
        for row in rows:
            if self.records_dir is None:
                self.counts[row.status] += 1
            self.counts["checks_failed"] += row.check_failed is not None
            yield row


def run(
    task: str,
    settings: Any,
    inputs: Sequence[InputItem | UriItem],
    *,
    model: str | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | None = None,
    stage: OutputStage | None = None,
    check: Callable[[Any], str | None] | None = None,
    batch_size: int = 8,
    concurrency: int | tuple[int, int] = 1,
    num_cpus: float = 1,
    num_gpus: float = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    records_dir: str | None = None,
    records_format: str = "jsonl",
) -> RayRun:
    """Run a command's ``inputs`` (found by the CLI, or :func:`list_uris`) on Ray — the cluster at
    ``RAY_ADDRESS``, or a local Ray — with the arguments of :func:`records`. ``records_dir`` (a local
    directory or a URI): the records go there as parts (``records_format`` ``jsonl`` or ``parquet``)
    instead of through this process."""
    if any(getattr(item, "is_stdin", False) for item in inputs):
        raise UsageError("- (stdin) cannot be sent to Ray workers; name files or URIs")
    if records_format not in ("jsonl", "parquet"):
        raise UsageError(f"records format {records_format}: jsonl or parquet")
    connect()
    rows = [
        {"path": item.source, "relative": item.relative.as_posix(), "max_file_size": item.max_file_size}
        for item in inputs
    ]
    blocks = max(1, min(-(-len(rows) // batch_size), 4096))  # a block per batch: the actors share the work
    dataset = ray.data.from_items(rows, override_num_blocks=blocks)
    dataset = records(
        dataset,
        task,
        settings,
        model,
        device=device,
        half=half,
        weights=weights,
        stage=stage,
        check=check,
        batch_size=batch_size,
        concurrency=concurrency,
        num_cpus=num_cpus,
        num_gpus=num_gpus,
        max_pixels=max_pixels,
    )
    return RayRun(dataset, records_dir, records_format)
