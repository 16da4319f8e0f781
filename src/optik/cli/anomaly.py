"""``optik anomaly``: learn what normal images look like (``fit``), then flag and locate what is not (``score``)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    engine_options,
    fail,
    find_inputs,
    image_plan,
    input_arguments,
    output_options,
    run_job,
    run_options,
)
from optik.registry.trained import BACKBONES


@click.group()
def anomaly() -> None:
    """Anomaly detection (PatchCore): fit on normal images, score new ones with a per-pixel map."""


@anomaly.command(cls=TaskCommand)
@input_arguments
@click.option("-o", "--output", metavar="DIR", required=True, help="The model directory to write (new or empty).")
@click.option(
    "--backbone", type=click.Choice(BACKBONES), default=BACKBONES[0], show_default=True, help="The embedded network."
)
@click.option(
    "--size", type=int, default=224, show_default=True, help="Images are stretched to SIZE×SIZE (a multiple of 32)."
)
@click.option(
    "--holdout",
    type=float,
    default=0.2,
    show_default=True,
    help="Share of the normal images kept apart to calibrate the threshold.",
)
@click.option(
    "--fpr", type=float, default=0.01, show_default=True, help="Share of normal images allowed above the threshold."
)
@click.option(
    "--coreset", type=float, default=0.1, show_default=True, help="Share of the normal patches kept in the bank."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, images and machine: same model.")
@click.option("--name", help="The model's name in its card [default: the directory's name].")
@click.option("--overwrite", is_flag=True, help="Replace the model in DIR.")
@run_options
def fit(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    output: str,
    backbone: str,
    size: int,
    holdout: float,
    fpr: float,
    coreset: float,
    seed: int,
    name: str | None,
    overwrite: bool,
    **options: Any,
) -> int:
    """Learn what the normal images NORMAL… (files or folders, read recursively) look like; write the model to DIR.

    \b
    optik anomaly fit good-parts/ -o parts-anomaly/
    optik anomaly fit good/ -o model/ --fpr 0.001 --size 320

    \b
    A share (--holdout) of the images, chosen with --seed, calibrates the threshold: at most
    --fpr of normal images should score above it (with fewer than 1/fpr held-out images, the
    highest of their scores). Use only images without defects.
    """
    from pathlib import Path

    from optik.io.model_dir import check_model_dir
    from optik.io.outputs import check_writable
    from optik.tasks.settings import AnomalyFitSettings

    run = RunOptions(**options)
    run.apply()
    settings = AnomalyFitSettings(backbone, size, holdout, fpr, coreset, seed)
    directory = Path(output)
    check_model_dir(directory, overwrite)
    items = find_inputs(images, True, files_from)
    check_writable(directory)

    from optik import pipeline  # torch and OpenCV from here on: the usage errors above come at once
    from optik.errors import EXIT_INPUT_FAILED, EXIT_OK
    from optik.io.records import RecordWriter
    from optik.registry.backends import EAGER
    from optik.registry.loading import load
    from optik.registry.trained import backbone_spec
    from optik.tasks.anomaly import fit_anomaly

    run.progress.status(f"loading {backbone}…")
    model = load(backbone_spec(backbone), run.device, run.use_half(), Path(run.weights) if run.weights else None, EAGER)
    run.loaded()
    run.progress.start(len(items))
    started = time.perf_counter()
    fitted = fit_anomaly(
        model,
        items,
        settings,
        name or directory.resolve().name,
        " ".join(images) or files_from or "",
        lambda task, inputs: pipeline.run(task, inputs, run.batch_size, run.workers, run.max_pixels),
        run.progress.advance,
    )
    run.progress.close()
    errors = run.progress.stream(sys.stderr)
    for failure in fitted.failures:
        fail(failure, errors)
    fitted.save(directory, overwrite)
    writer = RecordWriter(run.fmt, ("path", "model", "threshold", "fpr", "bank"), sys.stdout)
    writer.write(fitted.to_record(), fitted.to_text())
    writer.close()
    if not run.quiet:
        click.echo(f"optik: fitted in {time.perf_counter() - started:.1f} s; wrote {directory}", err=True)
    return EXIT_INPUT_FAILED if fitted.failures else EXIT_OK


@anomaly.command(cls=TaskCommand)
@input_arguments
@click.option("-m", "--model", metavar="DIR", required=True, help="The model directory (`optik anomaly fit -o DIR`).")
@click.option(
    "--max-score",
    type=float,
    help="Anomalous above this score [default: the threshold calibrated with the model].",
)
@output_options("the images with their anomaly maps over them")
@run_options
@engine_options
def score(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    model: str,
    max_score: float | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    **options: Any,
) -> int:
    """Score IMAGES against a fitted model; exit 1 naming those above the threshold.

    \b
    optik anomaly score -r batch/ --model parts-anomaly/              # CI: no defective part in this batch
    optik anomaly score part.png --model parts-anomaly/ -o part-map.png
    optik anomaly score -r batch/ --model parts-anomaly/ --format jsonl --max-score 2.5

    \b
    Each record has the image's score (the highest value of its anomaly map), the threshold and
    whether it is anomalous, with a box around the region above the threshold. -o draws the map
    over each image (transparent where normal) and outlines that region.
    """
    from optik.io.outputs import OutputStage
    from optik.tasks.settings import AnomalySettings

    run = RunOptions(**options)
    run.apply()
    settings = AnomalySettings(max_score)
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing) if output else None
    task = run.create_task("anomaly", settings, model)

    def check(result: Any) -> str | None:
        if not result.anomalous:
            return None
        return f"anomalous: score {result.score:.4g} above {result.threshold:.4g}"

    return run_job(task, items, run, check, plan, OutputStage(plan) if plan else None)
