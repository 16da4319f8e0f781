"""``optik style``: fast neural style transfer (26 learned styles, blends, any image) and classical filters."""

from __future__ import annotations

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    engine_options,
    find_inputs,
    image_plan,
    input_arguments,
    output_options,
    run_job,
    run_options,
)
from optik.tasks.settings import filter_names


@click.command(cls=TaskCommand)
@input_arguments
@click.option(
    "--style",
    "style",
    metavar="STYLE",
    help="A style name or number (see --list), a blend 3:0.6,blue-swirls:0.4, a filter "
    f"({', '.join(filter_names())}), or an image file to take the style from.",
)
@click.option(
    "--strength",
    type=click.FloatRange(0, 1),
    default=1.0,
    show_default=True,
    help="How much style: a blend with the photo (a style image: its style vector mixed with the photo's).",
)
@click.option(
    "--size",
    type=click.IntRange(16, 8192),
    metavar="N",
    help="Processing size, the long side in px [default: the image's own, at most 1024; 384 with a style "
    "image; 256 per thumbnail with --gallery]. Larger N: finer strokes. The output keeps the input's size.",
)
@click.option("--preserve-color", is_flag=True, help="Keep the photo's colours (stylised luminance only).")
@click.option(
    "--tile",
    type=click.IntRange(0),
    metavar="N",
    help="Run processing sizes over N px in N-px tiles; the norm statistics stay whole-image, so there are "
    "no seams [default: 1024; 0: never].",
)
@output_options("the stylised images")
@click.option("--list", "list_styles", is_flag=True, help="Print the style names and numbers, then exit.")
@click.option("--gallery", metavar="SHEET.png", help="Render one IMAGE in every style and filter on a contact sheet.")
@run_options
@engine_options
def style(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    style: str | None,
    strength: float,
    size: int | None,
    preserve_color: bool,
    tile: int | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    list_styles: bool,
    gallery: str | None,
    **options: object,
) -> int:
    """Restyle IMAGES as paintings: 26 learned styles and their blends, the style of any image, or filters.

    \b
    optik style photo.jpg --style blue-swirls -o painted.jpg
    optik style photo.jpg --style 3:0.6,17:0.4 --strength 0.8 -o out.png
    optik style -r photos/ --style monet.jpg --preserve-color -o styled/
    optik style photo.jpg --style cartoon -o - | display
    optik style --list
    optik style photo.jpg --gallery sheet.png      # every style on one sheet, to pick by looking

    \b
    -o is required: a file for one input, a directory (inputs mirrored below it), or - (PNG on
    stdout; the records then go to stderr). The output has the input's size; the network runs at
    --size and its result is resized back (Lanczos). Transparency is composited on white for the
    network and kept in PNG/WebP/TIFF output.
    """
    from optik.errors import UsageError
    from optik.io.outputs import OutputStage
    from optik.tasks.settings import StyleSettings

    run = RunOptions(**options)
    run.apply()
    if list_styles:
        return _print_styles(run.fmt)
    if gallery is not None:
        return _gallery(images, recursive, files_from, gallery, size, overwrite, run)
    if style is None:
        raise UsageError("give --style: a name or number (`optik style --list`), a blend, a filter or an image")
    if output is None:
        raise UsageError("style writes images: give -o FILE (one input), -o DIR/ or -o - (stdout)")
    settings = StyleSettings(style, strength, size, preserve_color, StyleSettings.tile if tile is None else tile)
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing)
    task = run.create_task("style", settings, settings.style.model)
    return run_job(task, items, run, plan=plan, stage=OutputStage(plan))


def _print_styles(fmt: str) -> int:
    """``--list``: the 26 learned styles by number and name, then the filters."""
    from optik.io.records import RecordWriter
    from optik.registry import get_spec
    from optik.tasks.settings import filter_names, parse_style, style_names

    writer = RecordWriter(fmt, ("index", "name", "model", "summary"))
    learned = parse_style(0).model
    for index, name in enumerate(style_names()):
        writer.write({"index": index, "name": name, "model": learned}, f"{index:>3}  {name}")
    for name in filter_names():
        summary = get_spec(name, "style").summary
        writer.write({"index": None, "name": name, "model": name, "summary": summary}, f"{'':>3}  {name:<17}{summary}")
    if fmt == "text":
        click.echo("     PATH             any image file: the arbitrary-style model takes its style from it")
    writer.close()
    return 0


def _gallery(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    target: str,
    size: int | None,
    overwrite: bool,
    run: RunOptions,
) -> int:
    """``--gallery``: one photo in all 26 styles and the filters, on a labelled sheet (through the same
    pipeline and output stage as every task)."""
    from pathlib import Path

    from optik.errors import UsageError
    from optik.io.outputs import OutputPlan, OutputStage
    from optik.preprocess.headers import OUTPUT_EXTENSIONS
    from optik.tasks.settings import parse_style
    from optik.tasks.style import StyleGallery

    items = find_inputs(images, recursive, files_from)
    if len(items) != 1:
        raise UsageError(f"--gallery renders one image; {len(items)} given")
    if Path(target).suffix.lower() not in OUTPUT_EXTENSIONS:
        raise UsageError(f"--gallery {target}: name an image file (.png, .jpg, …)")
    if Path(target).exists() and not overwrite:
        raise UsageError(f"--gallery {target}: exists (use --overwrite to replace it)")
    plan = OutputPlan(target, many=False, overwrite=overwrite)
    task = StyleGallery(run.load_model(parse_style(0).model, "style"), size)
    return run_job(task, items, run, plan=plan, stage=OutputStage(plan))
