"""``optik compare``: new images against golden ones — metrics, gates, diff pictures, ``--update``."""

from __future__ import annotations

import click

from optik.cli.common import RunOptions, TaskCommand, find_inputs, input_arguments, run_job, run_options


@click.command(cls=TaskCommand)
@input_arguments
@click.option("--against", metavar="DIR", help="Golden directory: each input is compared with its mirror below it.")
@click.option(
    "--tolerance",
    type=click.FloatRange(0, 1),
    default=0.1,
    show_default=True,
    help="YIQ colour distance (0-1, pixelmatch's threshold) from which a pixel counts as different.",
)
@click.option("--include-aa", is_flag=True, help="Count pixels that look like anti-aliasing as different too.")
@click.option(
    "--max-diff-pixels",
    metavar="N|P%",
    help="Fail a pair with more differing pixels than N, or than P% of the image.  [default without other gates: 0]",
)
@click.option("--min-ssim", type=float, metavar="S", help="Fail a pair whose SSIM (luma, 7x7) is below S.")
@click.option(
    "--min-ms-ssim", type=float, metavar="S", help="Fail a pair whose MS-SSIM is below S (implies --ms-ssim)."
)
@click.option("--min-psnr", type=float, metavar="DB", help="Fail a pair whose PSNR is below DB.")
@click.option(
    "--max-perceptual",
    type=float,
    metavar="D",
    help="Fail a pair whose perceptual distance (MobileNetV2 features; not LPIPS) is above D (implies --perceptual).",
)
@click.option("--ms-ssim", is_flag=True, help="Measure MS-SSIM (5 scales; null below 112 px).")
@click.option("--perceptual", is_flag=True, help="Measure the perceptual distance (loads the embedded MobileNetV2).")
@click.option("--resize", is_flag=True, help="Compare images of different sizes: the new one resized to the golden's.")
@click.option(
    "-o", "--output", metavar="DIR", help="Write NAME.diff.png and NAME.sheet.png below DIR for failing pairs."
)
@click.option("--overwrite", is_flag=True, help="Replace existing diff pictures.")
@click.option("--update", is_flag=True, help="Copy each failing (or added) new image over its golden one.")
@run_options
def compare(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    against: str | None,
    tolerance: float,
    include_aa: bool,
    max_diff_pixels: str | None,
    min_ssim: float | None,
    min_ms_ssim: float | None,
    min_psnr: float | None,
    max_perceptual: float | None,
    ms_ssim: bool,
    perceptual: bool,
    resize: bool,
    output: str | None,
    overwrite: bool,
    update: bool,
    **options: object,
) -> int:
    """Compare NEW with GOLDEN (two files, or two directories as mirrored trees), or IMAGES… with their
    mirrors below --against DIR. Each pair gets PSNR, SSIM, the pixelmatch-style share of differing pixels
    and max/mean absolute difference (MS-SSIM and a perceptual distance when asked); a golden image without a
    new one is "removed", a new one without a golden one "added". Exit 1 when any pair fails.

    \b
    optik compare new.png golden.png
    optik compare out/ golden/ --min-ssim 0.98 -o diffs/
    optik compare -r renders/ --against golden/ --max-diff-pixels 0.1% --format jsonl
    optik compare out/ golden/ --update          # accept the new images as golden

    \b
    Without a gate any pixel over --tolerance fails the pair. Sizes that differ are an error for that
    pair (exit 3) unless --resize. Exit codes as ImageMagick's compare: optik 0 = its 0 (similar),
    optik 1 = its 1 (dissimilar), optik 2/3/4 = its 2 (error: usage, unreadable pairs, no model).
    """
    from optik.errors import UsageError
    from optik.io.golden import CompareStage
    from optik.io.outputs import OutputPlan
    from optik.io.pairs import pair_up
    from optik.tasks.compare import Comparer
    from optik.tasks.settings import CompareSettings

    run = RunOptions(**options)
    run.apply()
    if against is None:
        if len(images) != 2 or files_from:
            raise UsageError("give NEW GOLDEN (two files or two directories), or IMAGES… --against GOLDEN_DIR")
        new, golden = [images[0]], images[1]
    else:
        new, golden = list(images), against
    if update and any(image == "-" for image in new):
        raise UsageError("--update cannot copy stdin over a golden file")
    settings = CompareSettings(
        tolerance,
        include_aa,
        max_diff_pixels,
        min_ssim,
        min_ms_ssim,
        min_psnr,
        max_perceptual,
        ms_ssim,
        perceptual,
        resize,
    )
    if output == "-":
        raise UsageError("-o takes a directory: each failing pair gets a heat map and a sheet")
    pairs = pair_up(find_inputs(tuple(new), recursive, files_from), new, golden, recursive, files_from is not None)
    plan = OutputPlan(output, many=True, overwrite=overwrite) if output else None
    backbone = None
    if settings.perceptual:
        from optik.tasks.backbone import Backbone

        backbone = Backbone.load(run.device, run.use_half(), run.weights)
    task = Comparer(settings, backbone)

    def check(result: object) -> str | None:
        reason = result.reason()
        if reason and result.updated:
            click.echo(f"optik: updated {result.updated} ({reason})", err=True)
            return None
        return reason

    return run_job(task, pairs, run, check, stage=CompareStage(plan, update))
