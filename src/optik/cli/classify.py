"""``optik classify``: ImageNet labels for images, with CI checks."""

from __future__ import annotations

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    engine_options,
    find_inputs,
    input_arguments,
    model_option,
    run_job,
    run_options,
)


@click.command(cls=TaskCommand)
@input_arguments
@model_option("classify")
@click.option("-k", "--top-k", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option("--expect", metavar="LABEL[,LABEL…]", help="Fail (exit 1) unless top-1 contains one of these words.")
@click.option("--min-score", type=click.FloatRange(0, 1), help="Fail (exit 1) when the top-1 score is lower.")
@click.option("--draft", is_flag=True, help="Decode large JPEGs at reduced scale: faster, scores within ~0.03.")
@run_options
@engine_options
def classify(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    model: str | None,
    top_k: int,
    expect: str | None,
    min_score: float | None,
    draft: bool,
    **options: object,
) -> int:
    """Label IMAGES with ImageNet classes.

    \b
    optik classify photo.jpg
    optik classify -r photos/ --format jsonl > labels.jsonl
    optik classify product.png --expect "espresso,cup" --min-score 0.5
    """
    from optik.errors import UsageError
    from optik.tasks.checks import check_expectations, words_in_no_label
    from optik.tasks.settings import ClassifySettings

    run = RunOptions(**options)
    run.apply()
    settings = ClassifySettings(top_k, draft)
    items = find_inputs(images, recursive, files_from)
    task = run.create_task("classify", settings, model)
    words = [word.strip() for word in expect.split(",") if word.strip()] if expect else []
    why = words_in_no_label(words, task.labels)
    if why:
        raise UsageError(f"--expect: {why}")
    check = (lambda result: check_expectations(result, words, min_score)) if words or min_score is not None else None
    return run_job(task, items, run, check)
