"""``optik ocr``: read the text in images; plain text, records, annotated or redacted images, CI checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    engine_options,
    find_inputs,
    image_plan,
    input_arguments,
    model_option,
    output_options,
    run_job,
    run_options,
)

if TYPE_CHECKING:
    from optik.tasks.ocr import OcrResult
    from optik.tasks.settings import TextChecks


@click.command(cls=TaskCommand)
@input_arguments
@model_option("ocr")
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Drop lines read with a lower confidence (mean over their characters).",
)
@output_options("annotated images (lines outlined, the text beside them; with --redact, redacted)")
@click.option(
    "--redact",
    type=click.Choice(("blur", "pixelate", "fill")),
    help="With -o: hide the box around every line of text instead of annotating.",
)
@click.option("--expect-text", multiple=True, metavar="TEXT", help="Fail (exit 1) unless this text is found.")
@click.option("--forbid-text", multiple=True, metavar="TEXT", help="Fail (exit 1) if this text is found.")
@click.option("--regex", is_flag=True, help="--expect-text/--forbid-text are regular expressions.")
@click.option("--ignore-case", is_flag=True, help="--expect-text/--forbid-text ignore case.")
@click.option("--min-lines", type=click.IntRange(0), help="Fail (exit 1) with fewer lines of text per image.")
@click.option("--max-lines", type=click.IntRange(0), help="Fail (exit 1) with more lines of text per image.")
@run_options
@engine_options
def ocr(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    model: str | None,
    min_score: float,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    redact: str | None,
    expect_text: tuple[str, ...],
    forbid_text: tuple[str, ...],
    regex: bool,
    ignore_case: bool,
    min_lines: int | None,
    max_lines: int | None,
    **options: object,
) -> int:
    """Read the text in IMAGES: lines in reading order, each with its confidence and polygon.

    \b
    optik ocr scan.png > scan.txt                       # the plain text, one line per line
    optik ocr -r receipts/ --format jsonl > text.jsonl  # text, scores, polygons and boxes
    optik ocr screenshot.png --expect-text "Welcome" --forbid-text "lorem ipsum" --ignore-case
    optik ocr photo.jpg -o annotated.png                # lines outlined, the text beside them
    optik ocr -r scans/ --redact fill -o redacted/      # black boxes over every line

    \b
    With several images, the text format starts each image's text with a "==> PATH <==" line.
    --expect-text and --forbid-text may repeat; a space in TEXT matches any run of whitespace,
    line breaks included. -o writes a file (one input), a directory (inputs mirrored below it) or
    - (the image on stdout; the records then go to stderr).
    """
    from optik.errors import UsageError
    from optik.io.outputs import OutputStage
    from optik.tasks.settings import OcrSettings, TextChecks

    run = RunOptions(**options)
    run.apply()
    if redact and not output:
        raise UsageError("--redact writes the redacted images: give -o FILE, -o DIR/ or -o -")
    if (regex or ignore_case) and not (expect_text or forbid_text):
        raise UsageError("--regex and --ignore-case apply to --expect-text/--forbid-text; give one")
    settings = OcrSettings(min_score)
    checks = TextChecks(expect_text, forbid_text, regex, ignore_case, min_lines, max_lines)
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing) if output else None
    reader = run.create_task("ocr", settings, model)
    reader.headings = len(items) > 1
    stage = OutputStage(plan, lambda result: result.render(redact)) if plan else None
    return run_job(reader, items, run, _text_check(checks), plan, stage)


def _text_check(checks: TextChecks) -> Callable[[OcrResult], str | None] | None:
    """:func:`~optik.tasks.ocr.check_text` bound to ``checks``, or None when nothing is checked (imported
    only here, once the model has loaded, so that usage errors stay free of torch)."""
    from optik.tasks.ocr import check_text

    return (lambda result: check_text(result, checks)) if checks.active else None
