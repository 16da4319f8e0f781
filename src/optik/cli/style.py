"""``optik style``: fast neural style transfer (26 learned styles, blends, any image) and classical filters."""

from __future__ import annotations

import sys

import click

from optik.cli.common import (
    RunOptions,
    image_plan,
    input_arguments,
    output_options,
    records_stream,
    run_job,
    run_options,
)


@click.command()
@input_arguments
@click.option(
    "-s",
    "--style",
    "style_spec",
    metavar="STYLE",
    help="A style name or number (see --list), a blend 3:0.6,blue-swirls:0.4, a filter (cartoon, pencil, "
    "sketch, watercolor), or an image file to take the style from.",
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
def style(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    style_spec: str | None,
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
    from pathlib import Path

    from optik.errors import UsageError
    from optik.io.inputs import discover
    from optik.registry import load_model
    from optik.tasks.style import CSV_FIELDS, DEFAULT_TILE, Stylizer, parse_style

    run = RunOptions(**options)
    run.apply()
    if list_styles:
        return _print_styles(run.fmt)
    if gallery is not None:
        return _gallery(images, recursive, files_from, gallery, size, overwrite, run)
    if style_spec is None:
        raise UsageError("give --style: a name or number (`optik style --list`), a blend, a filter or an image")
    if output is None:
        raise UsageError("style writes images: give -o FILE (one input), -o DIR/ or -o - (stdout)")
    choice = parse_style(style_spec)
    if run.weights and choice.kind == "filter":
        raise UsageError(f"--weights needs a network; the {choice.name} filter has none")
    items = discover(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing)
    loaded = load_model(choice.model, run.device, run.half, Path(run.weights) if run.weights else None, task="style")
    tile = DEFAULT_TILE if tile is None else tile
    task = Stylizer(loaded, choice, strength, size, preserve_color, tile, plan, sys.stdout.buffer)
    with records_stream(plan):
        return run_job(task, loaded, items, run, CSV_FIELDS, plan=plan)


def _print_styles(fmt: str) -> int:
    """``--list``: the 26 learned styles by number and name, then the filters."""
    from optik.io.records import RecordWriter
    from optik.tasks.style import style_table

    writer = RecordWriter(fmt, ("index", "name", "model", "summary"))
    for row in style_table():
        number = "" if row["index"] is None else row["index"]
        summary = f"{row['name']:<17}{row['summary']}" if "summary" in row else row["name"]
        writer.write(row, f"{number:>3}  {summary}")
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
    """``--gallery``: one photo in all 26 styles and the filters, on a labelled sheet."""
    from pathlib import Path

    from optik.errors import UsageError
    from optik.io.inputs import discover
    from optik.io.outputs import write_atomic
    from optik.preprocess.decode import IMAGE_EXTENSIONS, Image, decode, encode
    from optik.registry import load_model
    from optik.tasks.style import MULTISTYLE, gallery

    items = discover(images, recursive, files_from)
    if len(items) != 1:
        raise UsageError(f"--gallery renders one image; {len(items)} given")
    path = Path(target)
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise UsageError(f"--gallery {target}: name an image file (.png, .jpg, …)")
    if path.exists() and not overwrite:
        raise UsageError(f"--gallery {target}: exists (use --overwrite to replace it)")
    image = decode(items[0].read(), items[0].source, run.max_pixels)
    loaded = load_model(MULTISTYLE, run.device, run.half, Path(run.weights) if run.weights else None, task="style")
    sheet = gallery(loaded, image, size or 256)
    write_atomic(path, encode(Image(sheet), path.suffix))
    if not run.quiet:
        size_text = f"{sheet.shape[1]}×{sheet.shape[0]}"
        click.echo(f"optik: wrote {target} ({size_text}: the photo, 26 styles, 4 filters)", err=True)
    return 0
