"""``optik segment``: background removal, person masks, VOC classes, instances and classical segmentation."""

from __future__ import annotations

import re
from pathlib import Path
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
    import numpy as np

_COLOURS = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
}
_ALPHA_EXTENSIONS = (".png", ".webp", ".tif", ".tiff")


def parse_colour(text: str) -> tuple[int, int, int] | None:
    """``#rrggbb``, ``#rgb``, ``R,G,B`` or a basic colour name; None if ``text`` is none of these."""
    text = text.strip().lower()
    if text in _COLOURS:
        return _COLOURS[text]
    if re.fullmatch(r"#[0-9a-f]{6}", text):
        return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
    if re.fullmatch(r"#[0-9a-f]{3}", text):
        return tuple(int(c * 2, 16) for c in text[1:])
    parts = text.split(",")
    if len(parts) == 3 and all(p.strip().isdigit() and int(p) <= 255 for p in parts):
        return tuple(int(p) for p in parts)
    return None


def _background(value: str, max_pixels: int) -> tuple[int, int, int] | np.ndarray:
    """--bg: a colour, or an image file (decoded once, RGB uint8)."""
    from optik.errors import UsageError

    colour = parse_colour(value)
    if colour is not None:
        return colour
    if not Path(value).is_file():
        raise UsageError(f"--bg {value}: neither a colour (#rrggbb, r,g,b, white…) nor an image file")
    from optik.io.inputs import discover

    (item,) = discover([value])
    return item.load(max_pixels, None).rgb8()


def _box(value: str | None) -> tuple[int, ...] | str | None:
    """--box: ``x1,y1,x2,y2`` or ``auto`` (the settings check the geometry)."""
    from optik.errors import UsageError

    if value is None or value == "auto":
        return value
    parts = value.split(",")
    if len(parts) != 4 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise UsageError(f"--box {value}: expected x1,y1,x2,y2 in pixels, or auto")
    return tuple(int(p) for p in parts)


@click.command(cls=TaskCommand)
@input_arguments
@model_option("segment")
@click.option(
    "--mode",
    type=click.Choice(("cutout", "mask", "overlay", "bg")),
    help="What -o gets: cutout (RGBA PNG, default), mask (8-bit PNG), overlay, bg (with --bg).",
)
@click.option("--bg", "background", metavar="COLOR|IMAGE", help="Replace the background (implies --mode bg).")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Alpha from which a pixel is foreground (fraction, bbox, polygons, checks; cut-outs stay soft).",
)
@click.option("--polygons", is_flag=True, help="Add the simplified outer contours to the records.")
@click.option("--k", type=click.IntRange(2, 16), help="kmeans: number of colour clusters (default 2).")
@click.option(
    "--box",
    metavar="X1,Y1,X2,Y2|auto",
    help="grabcut: the box around the subject, or auto: nanodet's best detection (default: centred, 10 % in).",
)
@output_options("images (what --mode asks)")
@click.option(
    "--min-foreground", type=click.FloatRange(0, 1), help="Fail (exit 1) when less of the image is foreground."
)
@click.option(
    "--max-foreground", type=click.FloatRange(0, 1), help="Fail (exit 1) when more of the image is foreground."
)
@run_options
@engine_options
def segment(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    model: str | None,
    mode: str | None,
    background: str | None,
    threshold: float,
    polygons: bool,
    k: int | None,
    box: str | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    min_foreground: float | None,
    max_foreground: float | None,
    **options: object,
) -> int:
    """Separate the foreground of IMAGES: cut-outs, masks, overlays, new backgrounds, records.

    \b
    optik segment photo.jpg -o cutout.png                  # transparent background
    optik segment -r shots/ --mode mask -o masks/          # 8-bit masks, names mirrored
    optik segment portrait.jpg --bg "#2255aa" -o blue.jpg
    optik segment coins.png -m watershed --format jsonl    # records only: foreground, bbox, regions
    optik segment product.png --min-foreground 0.2 -q      # CI: exit 1 if the subject is too small
    optik segment photo.jpg -m grabcut --box auto -o cut.png   # no network: seeded by nanodet's best box

    \b
    The default model is isnet (background removal for any subject) once `optik models pull isnet`
    has fetched it, otherwise selfie (people only; optik says so on stderr). Without -o only the
    records are written. With -o - the image (PNG) goes to stdout and the records to stderr.
    """
    from optik.errors import UsageError
    from optik.io.outputs import OutputStage
    from optik.tasks.checks import check_foreground
    from optik.tasks.settings import SegmentSettings

    run = RunOptions(**options)
    run.apply()
    if background is not None and mode not in (None, "bg"):
        raise UsageError(f"--bg replaces the background: it goes with --mode bg, not --mode {mode}")
    if output is None and (mode or background or overwrite or skip_existing):
        raise UsageError("--mode, --bg, --overwrite and --skip-existing are about output images: add -o")
    mode = mode or ("bg" if background is not None else "cutout")
    if min_foreground is not None and max_foreground is not None and min_foreground > max_foreground:
        raise UsageError("--min-foreground is larger than --max-foreground")
    settings = SegmentSettings(threshold, polygons, k, _box(box))
    items = find_inputs(images, recursive, files_from)
    plan = None
    if output is not None:
        plan = image_plan(output, items, overwrite, skip_existing, ".png" if mode in ("cutout", "mask") else None)
        single_file = not plan.many and not plan.to_stdout
        if single_file and mode == "cutout" and Path(output).suffix.lower() not in _ALPHA_EXTENSIONS:
            raise UsageError(f"-o {output}: a cut-out has transparency; write .png, .webp or .tif")
    back = _background(background, run.max_pixels) if background is not None else None
    task = run.create_task("segment", settings, model)
    stage = OutputStage(plan, lambda result: result.render(mode, back)) if plan is not None else None
    check = None
    if min_foreground is not None or max_foreground is not None:
        check = lambda result: check_foreground(result, min_foreground, max_foreground)  # noqa: E731
    return run_job(task, items, run, check, plan, stage)
