"""Options and machinery every task command shares: inputs, devices, formats, progress, exit codes."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

import click

from optik.cli.progress import Progress
from optik.cli.threads import ThreadPlan, plan_threads
from optik.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INPUT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    OptikError,
    SettingError,
    UsageError,
)
from optik.io.records import result_record, text_line

log = logging.getLogger("optik")
FORMATS = ("text", "json", "jsonl", "csv", "parquet")


def setup_logging(verbose: int, quiet: bool, stream: TextIO | None = None) -> None:
    """optik's log lines on ``stream`` (stderr), prefixed ``optik:``; ``-v`` shows info, ``-q`` only errors."""
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("optik: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def fail(message: str, stream: TextIO | None = None) -> None:
    """One line on stderr (or ``stream``, above the progress line) for one failed input."""
    click.echo(f"optik: error: {message}", file=stream or sys.stderr)


def _remember(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """Keep an input option in the context for :func:`find_inputs` (commands need not pass it on)."""
    ctx.meta[f"optik.{param.name}"] = value
    return value


def input_arguments(command: Callable) -> Callable:
    """IMAGES…, ``-r``, ``--files-from`` (passed to the command), ``-0`` and ``--max-file-size`` (kept for
    :func:`find_inputs`)."""
    for decorator in reversed(
        (
            click.argument("images", nargs=-1, metavar="IMAGES…"),
            click.option("-r", "--recursive", is_flag=True, help="Recurse into directories."),
            click.option(
                "--files-from", metavar="LIST|-", help="Read input paths, one per line, from a file or stdin."
            ),
            click.option(
                "-0",
                "--null",
                is_flag=True,
                expose_value=False,
                callback=_remember,
                help="--files-from names are NUL-separated (find -print0).",
            ),
            click.option(
                "--max-file-size",
                metavar="BYTES",
                type=click.IntRange(1),
                default=2 << 30,
                show_default="2 GiB",
                expose_value=False,
                callback=_remember,
                help="Refuse larger input files.",
            ),
        )
    ):
        command = decorator(command)
    return command


def find_inputs(images: tuple[str, ...], recursive: bool, files_from: str | None) -> list:
    """The command's inputs (:func:`optik.io.inputs.discover`), with ``-0`` and ``--max-file-size`` applied;
    with ``--engine ray``, URIs too (listed through pyarrow)."""
    from optik.io.inputs import discover, is_uri

    ctx = click.get_current_context()
    max_file_size = ctx.meta.get("optik.max_file_size", 2 << 30)
    uris = [image for image in images if is_uri(image)]
    if uris and ctx.params.get("engine") != "ray":
        raise UsageError(f"{uris[0]}: URIs are read by --engine ray; name local files here")
    local = [image for image in images if not is_uri(image)]
    items: list = []
    if local or files_from or not uris:
        nul = ctx.meta.get("optik.null", False)
        items = discover(local, recursive, files_from, files_from_nul=nul, max_file_size=max_file_size)
    if uris:
        from optik.ray import list_uris

        items += list_uris(uris, recursive, max_file_size)
        if not items:
            raise UsageError("no image files at " + ", ".join(uris))
    return items


def model_option(task: str) -> Callable[[Callable], Callable]:
    """``-m/--model`` with the task's models from the registry in its help."""
    from optik.registry import DEFAULTS, list_models, source_kind

    specs = list_models(task)
    here = [spec.name for spec in specs if source_kind(spec) != "download"]
    downloads = " or a torchvision model" if any(source_kind(spec) == "download" for spec in specs) else ""
    default = " once pulled, else ".join(DEFAULTS[task])
    return click.option(
        "-m",
        "--model",
        metavar="NAME",
        help=f"{', '.join(here)}{downloads} [default: {default}]; see `optik models list --task {task}`.",
    )


def run_options(command: Callable | None = None, *, batches: bool = True) -> Callable:
    """The options every task command shares; ``batches=False`` hides ``--batch-size`` (image by image)."""
    if command is None:
        return lambda command: run_options(command, batches=batches)
    for decorator in reversed(
        (
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default="text",
                show_default=True,
                help="Results on stdout: text, json (one array), jsonl (streamed), csv; parquet for --records parts.",
            ),
            click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
            click.option("--half", is_flag=True, help="fp16 inference (CUDA only; fp32 with a warning on CPU)."),
            click.option(
                "--backend",
                type=click.Choice(("auto", "torch", "onnxruntime", "ncnn")),
                default="auto",
                show_default=True,
                help="How the network runs: the fastest measured for the model (auto), PyTorch, ONNX Runtime, or "
                "ncnn (one-image networks: Real-ESRGAN, ISNet).",
            ),
            click.option(
                "--batch-size",
                type=click.IntRange(1, 1024),
                default=8,
                show_default=True,
                hidden=not batches,
                help="Images per forward pass.",
            ),
            click.option("--threads", type=click.IntRange(1, 256), default=None, help="CPU threads for inference."),
            click.option(
                "--max-pixels",
                type=click.IntRange(1),
                default=100_000_000,
                show_default=True,
                help="Refuse larger images (decompression bombs).",
            ),
            click.option(
                "--weights", type=click.Path(dir_okay=False), help="Your own checkpoint for the architecture."
            ),
            click.option("--no-progress", is_flag=True, help="No progress bar (it only shows on a terminal anyway)."),
            click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
            click.option("-v", "--verbose", count=True, help="Say what is loaded and where it runs."),
        )
    ):
        command = decorator(command)
    return command


def engine_options(command: Callable) -> Callable:
    """``--engine local|ray`` and the Ray run's own options, for the commands whose task runs on Ray."""
    for decorator in reversed(
        (
            click.option(
                "--engine",
                type=click.Choice(("local", "ray")),
                default="local",
                show_default=True,
                help="Run here, or on Ray Data: the cluster at RAY_ADDRESS, else a local Ray (optik[ray]).",
            ),
            click.option(
                "--records",
                metavar="DIR|URI",
                help="With --engine ray: records as parts below DIR (JSON Lines; --format parquet), not on stdout.",
            ),
            click.option(
                "--actors",
                type=click.IntRange(1, 4096),
                default=1,
                show_default=True,
                help="With --engine ray: actors, each holding the model (on a GPU each when --device is cuda).",
            ),
        )
    ):
        command = decorator(command)
    return command


#: When this command started (set by run_cli): the summary counts the start-up too.
STARTED = [time.perf_counter()]


@dataclass
class Tally:
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    checks_failed: list[str] = field(default_factory=list)
    loading: float = 0.0  # seconds spent loading the model
    special_files: int = 0  # FIFOs, devices, sockets met in folder walks (never read)

    def exit_code(self) -> int:
        if self.failed:
            return EXIT_INPUT_FAILED
        return EXIT_CHECK_FAILED if self.checks_failed else EXIT_OK

    def summary(self) -> str:
        """``3 processed, 0 failed, 0 skipped in 4.2 s (1.9 s start-up and model load, 1.3 images/s)``."""
        elapsed = time.perf_counter() - STARTED[0]
        working = elapsed - self.loading
        rate = self.processed / working if working > 0 else 0.0
        text = f"{self.processed} processed, {self.failed} failed, {self.skipped} skipped in {elapsed:.1f} s "
        text += f"({self.loading:.1f} s start-up and model load, {_rate(rate)})"
        if self.checks_failed:
            text += f"; {len(self.checks_failed)} failed the checks"
        if self.special_files:
            text += f"; {self.special_files} special file(s) (FIFO, device, socket) not read"
        return text


def _rate(per_second: float) -> str:
    """``12.3 images/s``, or ``4.1 s/image`` when slower than one a second."""
    if per_second >= 1 or per_second == 0:
        return f"{per_second:.1f} images/s"
    return f"{1 / per_second:.1f} s/image"


def run_cli(args: list[str] | None = None) -> int:
    """Run the CLI on ``args`` (default ``sys.argv[1:]``), mapping every :class:`OptikError` to its one-line
    message and exit code; return the exit code."""
    from optik.cli import ReaderGone, main

    STARTED[0] = time.perf_counter()
    try:
        code = main.main(args, standalone_mode=False)
    except OptikError as exc:
        click.echo(f"optik: error: {exc}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("optik: interrupted", err=True)
        return 130
    except Terminated:
        click.echo("optik: terminated", err=True)
        return 143
    except (BrokenPipeError, ReaderGone):  # `optik … | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is still buffered goes nowhere
        return EXIT_OK
    except OSError as exc:  # writing the records or labels: a full disk, /dev/full, a vanished folder
        click.echo(f"optik: error: cannot write: {exc.strerror or exc}", err=True)
        return EXIT_INPUT_FAILED
    return code if isinstance(code, int) else EXIT_OK


class Terminated(BaseException):
    """SIGTERM arrived: stop like Ctrl-C does (atomic writes leave nothing partial), exit 143. A
    BaseException, as KeyboardInterrupt is, so that no ``except Exception`` on the way swallows it."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def entry_point() -> None:
    """The ``optik`` console script: SIGTERM handled like SIGINT; file names that are not UTF-8 pass
    through stdout and stderr byte for byte (surrogateescape), as in well-behaved Unix tools."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="surrogateescape")
    sys.exit(run_cli())


@dataclass
class RunOptions:
    """The shared options of a task command, as click parsed them."""

    fmt: str = "text"
    device: str = "auto"
    half: bool = False
    backend: str = "auto"
    batch_size: int = 8
    threads: int | None = None
    max_pixels: int = 100_000_000
    weights: str | None = None
    no_progress: bool = False
    quiet: bool = False
    verbose: int = 0
    engine: str = "local"
    records: str | None = None
    actors: int = 1
    progress: Progress = field(init=False, repr=False)
    threads_plan: ThreadPlan = field(init=False, repr=False)
    loading: float = field(init=False, default=0.0)  # seconds the model took to load

    def apply(self) -> None:
        """The progress line, logging and the thread plan, once per run (torch gets its threads when the
        model loads: usage errors must not wait for torch)."""
        if self.engine == "ray":
            check_ray_options(self)
        elif self.records or self.actors != 1 or self.fmt == "parquet":
            raise UsageError("--records, --actors and --format parquet belong to --engine ray")
        # on Ray the progress is Ray Data's own
        self.progress = Progress(not self.no_progress and not self.quiet and self.engine == "local")
        setup_logging(self.verbose, self.quiet, self.progress.stream(sys.stderr))
        self.threads_plan = plan_threads(self.threads)

    @property
    def workers(self) -> int:
        return self.threads_plan.workers

    def use_half(self) -> bool:
        """``--half``, which on a CPU is a warning and fp32."""
        if not self.half:
            return False
        from optik.registry.device import resolve_device

        if resolve_device(self.device).type != "cuda":
            log.warning("--half needs CUDA; running in float32")
            return False
        return True

    def create_task(self, task: str, settings: Any, model: str | None) -> Any:
        """The task's family adapter for ``model`` (None: the default) on the chosen device."""
        from optik.tasks import create_task

        self.progress.status(f"loading {model or 'the ' + task + ' model'}…")
        if self.engine == "ray":  # here only to check the model and the settings: the actors run it
            created = create_task(task, settings, model, "cpu", False, self.weights, "torch")
        else:
            created = create_task(task, settings, model, self.device, self.use_half(), self.weights, self.backend)
            if created.batch_limit == 1:  # a long forward per image: torch may use the workers' CPUs too
                self.threads_plan = plan_threads(self.threads, image_by_image=True)
        self.loaded()
        return created

    def load_model(self, name: str, task: str) -> Any:
        """A registry model on the chosen device, for commands that build their task themselves."""
        from optik.registry import load_model

        if self.engine == "ray":
            raise UsageError("this mode runs on the local engine only (not --engine ray)")
        self.progress.status(f"loading {name}…")
        loaded = load_model(name, self.device, self.use_half(), self.weights, task, self.backend)
        self.loaded()
        return loaded

    def loaded(self) -> None:
        """The model is loaded: torch gets its threads, and the clock notes how long starting took."""
        import torch

        torch.set_num_threads(self.threads_plan.torch)
        log.info("threads: %s", self.threads_plan.describe())
        self.loading = time.perf_counter() - STARTED[0]


class TaskCommand(click.Command):
    """A task command: a :class:`SettingError` from the library becomes a usage error naming the flag."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingError as exc:
            flags = {param.name: max(param.opts, key=len) for param in self.params if isinstance(param, click.Option)}
            raise UsageError(f"{flags.get(exc.field, exc.field)}: {exc.message}") from None


def check_ray_options(options: RunOptions) -> None:
    """Usage errors for a Ray run, before anything starts: the extra is installed, the formats fit."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise UsageError("--engine ray needs Ray: pip install 'optik[ray]'")
    if options.records and options.fmt not in ("text", "jsonl", "parquet"):
        raise UsageError(f"--records writes jsonl or parquet parts, not {options.fmt}")
    if options.fmt == "parquet" and not options.records:
        raise UsageError("--format parquet writes parts below --records DIR")


def run_on_ray(task: Any, items: list, options: RunOptions, check: Callable | None, stage: Any) -> int:
    """``run_job`` on Ray Data (:mod:`optik.ray`): the same records, summary and exit codes; ``task`` (loaded
    here to check the model and the settings) names the model that every actor loads."""
    import optik.ray
    from optik.io.labels import CocoLabels
    from optik.io.outputs import OutputStage
    from optik.io.records import RecordWriter

    coco = stage.labels if stage is not None and isinstance(stage.labels, CocoLabels) else None
    if coco is not None:  # one document for the whole run, gathered here from the records
        if options.records:
            raise UsageError("--labels-out FILE.json gathers the records here: leave out --records, or write yolo")
        stage = OutputStage(stage.images, stage.render, stage.crops)
    spec = task.model.spec
    cpus, gpus = optik.ray.actor_resources(options.actors, options.threads, options.device)
    log.info("running %s on Ray: %d actor(s) of %g CPU and %g GPU", spec.name, options.actors, cpus, gpus)
    run = optik.ray.run(
        spec.task,
        task.settings,
        items,
        model=spec.name,
        device=options.device,
        half=options.half,
        weights=options.weights,
        stage=stage,
        check=check,
        batch_size=options.batch_size,
        concurrency=options.actors,
        num_cpus=cpus,
        num_gpus=gpus,
        max_pixels=options.max_pixels,
        records_dir=options.records,
        records_format="parquet" if options.fmt == "parquet" else "jsonl",
    )
    writer = None if options.records else RecordWriter(options.fmt, task.csv_fields)
    tally = Tally(loading=options.loading, special_files=len(getattr(items, "special_files", ())))
    try:
        for row in optik.ray.unwrapped(run):
            if row.status == "failed":
                fail(row.record["error"])
            elif row.check_failed:
                tally.checks_failed.append(row.path)
                click.echo(f"optik: check failed: {row.path}: {row.check_failed}", err=True)
            if writer is not None:
                writer.write(row.record, row.text, row.csv_rows)
            if coco is not None and row.status == "processed":
                coco.add_record(row.record)
    finally:
        if writer is not None:
            writer.close()
    if coco is not None:
        coco.close()
    tally.processed, tally.failed, tally.skipped = (run.counts[name] for name in ("processed", "failed", "skipped"))
    if not options.quiet:
        click.echo(f"optik: {tally.summary()}", err=True)
    return tally.exit_code()


def run_job(
    task: Any,
    items: list,
    options: RunOptions,
    check: Callable[[Any], str | None] | None = None,
    plan: Any = None,
    stage: Any = None,
) -> int:
    """Run ``task`` over ``items``: records on stdout, errors and the summary on stderr; the exit code.

    ``plan``: the images' :class:`OutputPlan` — existing outputs are skipped (``--skip-existing``) or
    refused before any work is spent on them. ``stage``: the :class:`OutputStage` that writes images,
    crops and labels as results come."""
    if options.engine == "ray":
        return run_on_ray(task, items, options, check, stage)
    from optik import pipeline
    from optik.io.records import RecordWriter

    loaded = task.model
    log.info("running %s on %s (%s), %d input(s)", loaded.spec.name, loaded.device, loaded.dtype_name, len(items))
    tally = Tally(loading=options.loading, special_files=len(getattr(items, "special_files", ())))
    progress = options.progress
    errors = progress.stream(sys.stderr)
    # with -o - the image owns stdout, so the records go to stderr
    writer = RecordWriter(
        options.fmt, task.csv_fields, errors if plan is not None and plan.to_stdout else progress.stream(sys.stdout)
    )
    task.notify = progress.note
    progress.start(len(items))
    skip, refuse = (plan.should_skip, plan.refuse_early) if plan is not None else (None, None)
    outcomes = pipeline.run(task, items, options.batch_size, options.workers, options.max_pixels, skip, refuse, stage)
    try:
        for outcome in outcomes:
            progress.advance(outcome.item.source)
            if outcome.skipped:
                tally.skipped += 1
                output = str(plan.path_for(outcome.item))
                record = {"path": outcome.item.source, "skipped": True, "output": output}
                writer.write(
                    record,
                    text_line(outcome.item.source, output, "skipped: the output exists"),
                    [{"path": outcome.item.source}],
                )
                continue
            if outcome.error is not None:
                tally.failed += 1
                fail(outcome.error, errors)
                writer.write(
                    {"path": outcome.item.source, "error": outcome.error},
                    rows=[{"path": outcome.item.source, "error": outcome.error}],
                )
                continue
            tally.processed += 1
            result = outcome.result
            record = result_record(result, loaded.provenance(), outcome.timing_ms)  # the backend really used
            if check is not None:
                reason = check(result)
                record["check"] = {"passed": reason is None, **({"reason": reason} if reason else {})}
                if reason:
                    tally.checks_failed.append(outcome.item.source)
                    click.echo(f"optik: check failed: {outcome.item.source}: {reason}", file=errors)
            writer.write(record, result.to_text(), result.csv_rows())
    finally:
        progress.close()
        writer.close()
    if stage is not None:
        stage.close()
    if not options.quiet:
        click.echo(f"optik: {tally.summary()}", err=True)
    return tally.exit_code()


def run_index_update(task: Any, items: list, options: RunOptions, update: Any) -> int:
    """``run_job`` into an :class:`~optik.io.embedding_index.IndexUpdate` (``embed -o``, ``faces enroll``):
    only the inputs it still needs, the index released whatever happens, its summary on stderr."""
    try:
        code = run_job(task, update.plan(items), options, stage=update)
    finally:
        update.release()
    if not options.quiet:
        click.echo(f"optik: {update.summary()}", err=True)
    return code


def output_options(what: str) -> Callable[[Callable], Callable]:
    """``-o``, ``--overwrite`` and ``--skip-existing`` for a command that writes ``what`` (images)."""

    def decorate(command: Callable) -> Callable:
        for decorator in reversed(
            (
                click.option(
                    "-o",
                    "--output",
                    metavar="FILE|DIR|-",
                    help=f"Write {what}: a file (one input), a directory (inputs mirrored below it), or - (stdout).",
                ),
                click.option("--overwrite", is_flag=True, help="Replace existing output files."),
                click.option("--skip-existing", is_flag=True, help="Leave inputs whose output exists alone."),
            )
        ):
            command = decorator(command)
        return command

    return decorate


def remote_target(flag: str, target: str) -> bool:
    """Whether an output ``target`` is a URI, which Ray's workers write (optik.ray checks it); a usage error
    without ``--engine ray``."""
    from optik.io.inputs import is_uri

    if is_uri(target) and click.get_current_context().params.get("engine") != "ray":
        raise UsageError(f"{flag} {target}: URIs are written by --engine ray; name a local file or directory")
    return is_uri(target)


def image_plan(output: str, items: list, overwrite: bool, skip_existing: bool, suffix: str | None = None) -> Any:
    """The :class:`OutputPlan` for image outputs (``suffix`` forces a format in directories); a single
    ``-o FILE`` must name an image format."""
    from pathlib import Path

    from optik.io.outputs import OutputPlan, check_writable
    from optik.preprocess.headers import OUTPUT_EXTENSIONS

    plan = OutputPlan.create(output, items, suffix, overwrite, skip_existing)
    if remote_target("-o", output):
        return plan
    if not plan.many and not plan.to_stdout and Path(output).suffix.lower() not in OUTPUT_EXTENSIONS:
        raise UsageError(f"-o {output}: name an image file (.png, .jpg, .webp, .tif, .bmp) or a directory/")
    if not plan.to_stdout:
        check_writable(Path(output) if plan.many else Path(output).parent)
    items[:] = plan.outside(items)  # -o inside an input folder: optik's own outputs are not inputs
    if not items:
        raise UsageError(f"no inputs outside the output directory {output}")
    return plan
