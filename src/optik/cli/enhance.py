"""``optik enhance``: Real-ESRGAN super-resolution and restoration, and classical enhancement."""

from __future__ import annotations

import click
from click.core import ParameterSource

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


def _record_operation(ctx: click.Context, param: click.Parameter, value: object) -> object:
    """Click calls back in command-line order: remember the classical operations in that order."""
    if ctx.get_parameter_source(param.name) == ParameterSource.COMMANDLINE and value is not None and value is not False:
        number = None if isinstance(value, bool) else value
        ctx.meta.setdefault("optik.operations", []).append((param.name.replace("_", "-"), number))
    return value


def _operation(name: str, help: str, metavar: str | None = None, default: float | None = None) -> click.Option:
    """A classical-operation option: a flag, ``--name NUMBER``, or ``--name [NUMBER]`` when it has a ``default``."""
    if metavar is None:
        return click.option(name, is_flag=True, callback=_record_operation, expose_value=False, help=help)
    extra = {"is_flag": False, "flag_value": default} if default is not None else {}
    return click.option(
        name, type=float, metavar=metavar, callback=_record_operation, expose_value=False, help=help, **extra
    )


@click.command(cls=TaskCommand)
@input_arguments
@output_options("the enhanced images")
@model_option("enhance")
@click.option(
    "-s",
    "--scale",
    metavar="S",
    type=click.FloatRange(0, 16, min_open=True),
    help="Output size factor [default: the model's own, 4; 1 with --model none].",
)
@click.option(
    "--tile",
    metavar="N",
    type=click.IntRange(0),
    help="Tile side in input pixels (0: whole image) [default: from free memory].",
)
@click.option(
    "--tile-pad",
    metavar="P",
    type=click.IntRange(0, 256),
    default=16,
    show_default=True,
    help="Context around each tile.",
)
@_operation("--denoise", "Non-local means before the model, strength H in 8-bit units [10].", "[H]", 10.0)
@_operation("--clahe", "Adaptive histogram equalisation of lightness.")
@_operation("--auto-levels", "Stretch the 0.5–99.5 % range to full contrast.")
@_operation("--white-balance", "Gray-world white balance.")
@_operation("--gamma", "Gamma G: out = in^(1/G), above 1 brightens.", "G")
@_operation("--sharpen", "Unsharp mask (sigma 1 px) of strength AMOUNT [1].", "[AMOUNT]", 1.0)
@run_options(batches=False)
@engine_options
@click.pass_context
def enhance(
    ctx: click.Context,
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    model: str | None,
    scale: float | None,
    tile: int | None,
    tile_pad: int,
    **options: object,
) -> int:
    """Upscale and restore IMAGES with Real-ESRGAN, and/or enhance them classically.

    \b
    optik enhance photo.jpg -o photo_x4.png
    optik enhance scan.png --scale 1 -o clean.png            # restore (denoise, deJPEG) at the same size
    optik enhance -r frames/ -m realesr-animevideov3 -s 2 -o big/
    optik enhance dull.jpg -m none --white-balance --clahe --sharpen -o better.jpg

    \b
    Order: --denoise runs first (on the small image), then the model and the resample to --scale,
    then the other operations in the order given. -o is required: a file for one input, a directory
    (inputs mirrored below it), or - (PNG on stdout; the records then go to stderr).
    Images go one at a time, tile by tile.
    """
    from optik.errors import UsageError
    from optik.io.outputs import OutputStage
    from optik.preprocess.adjust import Operation
    from optik.tasks.settings import EnhanceSettings

    run = RunOptions(**options)
    run.apply()
    if output is None:
        raise UsageError("enhance writes images: give -o FILE (one input), -o DIR/ or -o - (stdout)")
    operations = [Operation(name, value).checked() for name, value in ctx.meta.get("optik.operations", [])]
    settings = EnhanceSettings(scale, tile, tile_pad, tuple(operations))
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing)
    task = run.create_task("enhance", settings, model)
    return run_job(task, items, run, plan=plan, stage=OutputStage(plan))
