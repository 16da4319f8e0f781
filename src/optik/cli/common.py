"""Options and machinery every task command shares: inputs, devices, formats, progress, exit codes."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from optik.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INPUT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    OptikError,
    SettingError,
    UsageError,
)

log = logging.getLogger("optik")
FORMATS = ("text", "json", "jsonl", "csv")


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("optik: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def fail(message: str) -> None:
    """One line on stderr for one failed input."""
    click.echo(f"optik: error: {message}", err=True)


def input_arguments(command: Callable) -> Callable:
    for decorator in reversed(
        (
            click.argument("images", nargs=-1, metavar="IMAGES…"),
            click.option("-r", "--recursive", is_flag=True, help="Recurse into directories."),
            click.option(
                "--files-from", metavar="LIST|-", help="Read input paths, one per line, from a file or stdin."
            ),
        )
    ):
        command = decorator(command)
    return command


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


def run_options(command: Callable) -> Callable:
    for decorator in reversed(
        (
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default="text",
                show_default=True,
                help="Results on stdout: text, json (one array), jsonl (streamed), csv.",
            ),
            click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
            click.option("--half", is_flag=True, help="fp16 inference (CUDA only; fp32 with a warning on CPU)."),
            click.option("--batch-size", type=click.IntRange(1, 1024), default=8, show_default=True),
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


class Progress:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.start = total, 0, time.perf_counter()
        self.enabled = enabled and total > 1 and sys.stderr.isatty()
        self.colour = "NO_COLOR" not in os.environ

    def step(self) -> None:
        self.done += 1
        if not self.enabled:
            return
        rate = self.done / max(time.perf_counter() - self.start, 1e-9)
        filled = int(30 * self.done / self.total)
        bar = "█" * filled + "·" * (30 - filled)
        if self.colour:
            bar = f"\x1b[36m{bar}\x1b[0m"
        sys.stderr.write(f"\r{bar} {self.done}/{self.total} {rate:.1f} img/s")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()


@dataclass
class Tally:
    processed: int = 0
    failed: int = 0
    skipped: int = 0
    checks_failed: list[str] = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)

    def exit_code(self) -> int:
        if self.failed:
            return EXIT_INPUT_FAILED
        return EXIT_CHECK_FAILED if self.checks_failed else EXIT_OK

    def summary(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.processed / elapsed if elapsed > 0 else 0.0
        text = f"{self.processed} processed, {self.failed} failed, {self.skipped} skipped in {elapsed:.1f} s "
        text += f"({rate:.1f} images/s)"
        if self.checks_failed:
            text += f"; {len(self.checks_failed)} failed the checks"
        return text


def run_cli(args: list[str] | None = None) -> int:
    """Run the CLI on ``args`` (default ``sys.argv[1:]``), mapping every :class:`OptikError` to its one-line
    message and exit code; return the exit code."""
    from optik.cli import main

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
    except BrokenPipeError:
        sys.stderr.close()
        return EXIT_OK
    return code if isinstance(code, int) else EXIT_OK


def entry_point() -> None:
    """The ``optik`` console script."""
    sys.exit(run_cli())


@dataclass
class RunOptions:
    """The shared options of a task command, as click parsed them."""

    fmt: str = "text"
    device: str = "auto"
    half: bool = False
    batch_size: int = 8
    threads: int | None = None
    max_pixels: int = 100_000_000
    weights: str | None = None
    no_progress: bool = False
    quiet: bool = False
    verbose: int = 0

    def apply(self) -> None:
        """Logging and thread settings, once per run."""
        setup_logging(self.verbose, self.quiet)
        if self.threads:
            import torch

            torch.set_num_threads(self.threads)

    @property
    def workers(self) -> int:
        return max(2, min(4, os.cpu_count() or 2))

    def use_half(self) -> bool:
        """``--half``, which on a CPU is a warning and fp32."""
        from optik.registry.device import resolve_device

        if self.half and resolve_device(self.device).type != "cuda":
            log.warning("--half needs CUDA; running in float32")
            return False
        return self.half

    def create_task(self, task: str, settings: Any, model: str | None) -> Any:
        """The task's family adapter for ``model`` (None: the default) on the chosen device."""
        from optik.tasks.base import create_task

        return create_task(task, settings, model, self.device, self.use_half(), self.weights)


class TaskCommand(click.Command):
    """A task command: a :class:`SettingError` from the library becomes a usage error naming the flag."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SettingError as exc:
            flags = {param.name: max(param.opts, key=len) for param in self.params if isinstance(param, click.Option)}
            raise UsageError(f"{flags.get(exc.field, exc.field)}: {exc.message}") from None


def run_job(
    task: Any,
    items: list,
    options: RunOptions,
    csv_fields: tuple[str, ...],
    check: Callable[[Any], str | None] | None = None,
    plan: Any = None,
    stage: Any = None,
) -> int:
    """Run ``task`` over ``items``: records on stdout, errors and the summary on stderr; the exit code.

    ``plan``: the images' :class:`OutputPlan` — existing outputs are skipped (``--skip-existing``) or
    refused before any work is spent on them. ``stage``: the :class:`OutputStage` that writes images,
    crops and labels as results come."""
    from optik import pipeline
    from optik.io.records import RecordWriter

    loaded = task.model
    log.info("running %s on %s (%s), %d input(s)", loaded.spec.name, loaded.device, loaded.dtype_name, len(items))
    tally = Tally()
    progress = Progress(len(items), not options.no_progress and not options.quiet)
    # with -o - the image owns stdout, so the records go to stderr
    writer = RecordWriter(options.fmt, csv_fields, sys.stderr if plan is not None and plan.to_stdout else sys.stdout)
    provenance = loaded.provenance()
    skip, refuse = (plan.should_skip, plan.refuse_early) if plan is not None else (None, None)
    outcomes = pipeline.run(task, items, options.batch_size, options.workers, options.max_pixels, skip, refuse, stage)
    try:
        for outcome in outcomes:
            progress.step()
            if outcome.skipped:
                tally.skipped += 1
                continue
            if outcome.error is not None:
                tally.failed += 1
                fail(outcome.error)
                writer.write(
                    {"path": outcome.item.source, "error": outcome.error},
                    rows=[{"path": outcome.item.source, "error": outcome.error}],
                )
                continue
            tally.processed += 1
            result = outcome.result
            record = {
                **result.to_record(),
                **provenance,
                "timing_ms": {k: round(v, 2) for k, v in outcome.timing_ms.items()},
            }
            if check is not None:
                reason = check(result)
                record["check"] = {"passed": reason is None, **({"reason": reason} if reason else {})}
                if reason:
                    tally.checks_failed.append(outcome.item.source)
                    click.echo(f"optik: check failed: {outcome.item.source}: {reason}", err=True)
            writer.write(record, result.to_text(), result.csv_rows())
    finally:
        progress.close()
        writer.close()
    if stage is not None:
        stage.close()
    if not options.quiet:
        click.echo(f"optik: {tally.summary()}", err=True)
    return tally.exit_code()


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


def image_plan(output: str, items: list, overwrite: bool, skip_existing: bool, suffix: str | None = None) -> Any:
    """The :class:`OutputPlan` for image outputs (``suffix`` forces a format in directories); a single
    ``-o FILE`` must name an image format."""
    from pathlib import Path

    from optik.errors import UsageError
    from optik.io.outputs import OutputPlan
    from optik.preprocess.decode import OUTPUT_EXTENSIONS

    plan = OutputPlan.create(output, items, suffix, overwrite, skip_existing)
    if not plan.many and not plan.to_stdout and Path(output).suffix.lower() not in OUTPUT_EXTENSIONS:
        raise UsageError(f"-o {output}: name an image file (.png, .jpg, .webp, .tif, .bmp) or a directory/")
    return plan
