"""``optik check``: quality gates for images — size, blur, exposure, noise, colour, file facts, duplicates."""

from __future__ import annotations

import click

from optik.cli.common import RunOptions, TaskCommand, find_inputs, input_arguments, run_job, run_options


@click.command(cls=TaskCommand)
@input_arguments
@click.option("--profile", metavar="FILE.toml", help="Gates from a TOML file (flags given here override it).")
@click.option("--min-size", metavar="WxH", help="Fail images narrower than W or lower than H (e.g. 800x600).")
@click.option("--max-size", metavar="WxH", help="Fail images wider than W or higher than H.")
@click.option("--max-aspect", type=float, metavar="R", help="Fail images whose long side is over R times the short.")
@click.option("--max-bytes", metavar="SIZE", help="Fail files larger than SIZE (bytes, or 500KB, 5MB, 2MiB).")
@click.option(
    "--min-sharpness", type=float, metavar="V", help="Fail blurry images: variance of the Laplacian (256-px side)."
)
@click.option(
    "--max-clipped", metavar="F[,S]", help="Fail images with more than F blown-out highlights (and S crushed shadows)."
)
@click.option("--min-luminance", type=float, metavar="L", help="Fail images darker on average than L (0-1).")
@click.option("--max-luminance", type=float, metavar="L", help="Fail images brighter on average than L (0-1).")
@click.option("--max-noise", type=float, metavar="SIGMA", help="Fail images noisier than SIGMA (8-bit luma levels).")
@click.option("--max-color-cast", type=float, metavar="DE", help="Fail images whose mean colour is DE (ΔE) off gray.")
@click.option("--formats", metavar="NAME[,NAME…]", help="Allowed file formats (JPEG, PNG, WebP, TIFF …).")
@click.option("--color-spaces", metavar="NAME[,NAME…]", help="Allowed colour spaces (sRGB, gray, CMYK, Display P3 …).")
@click.option(
    "--icc", type=click.Choice(("required", "forbidden")), help="An embedded ICC profile is required/forbidden."
)
@click.option("--alpha", type=click.Choice(("required", "forbidden")), help="An alpha channel is required/forbidden.")
@click.option("--upright", is_flag=True, help="Fail images that an EXIF orientation tag rotates or flips.")
@click.option(
    "--hash-distance",
    type=click.IntRange(0, 64),
    metavar="BITS",
    help="Fail near-duplicates: perceptual hash at most BITS of 64 from an earlier image's (6 is close).",
)
@click.option(
    "--max-similarity",
    type=click.FloatRange(-1, 1),
    metavar="COS",
    help="Fail images more alike than COS (MobileNetV2 embedding cosine) to an earlier one (0.95 is close).",
)
@run_options
def check(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    profile: str | None,
    upright: bool,
    **options: object,
) -> int:
    """Measure IMAGES and fail (exit 1) those that break a gate, naming the gates. Every measure is in the
    record, gated or not: width, height, aspect, format, file_size, orientation, icc, color_space, alpha,
    sharpness, clipped_highlights/shadows, luminance, noise, color_cast, phash, hash_distance (to the nearest
    earlier image) and with --max-similarity similarity.

    \b
    optik check uploads/*.jpg --min-size 800x600 --min-sharpness 150 --max-clipped 0.015,0.2
    optik check -r assets/ --profile .optik-check.toml --format jsonl
    optik check -r photos/ --hash-distance 6 --max-similarity 0.95   # near-duplicates in the batch
    """
    from optik.io.inspection import inspect_items
    from optik.io.profile import read_profile
    from optik.tasks.check import Checker
    from optik.tasks.settings import CheckSettings

    gate_names = set(CheckSettings.__dataclass_fields__)
    flags = {name: options.pop(name) for name in list(options) if name in gate_names}
    run = RunOptions(**options)
    run.apply()
    settings = CheckSettings.from_profile(read_profile(profile) if profile else {}, **flags, upright=upright or None)
    items = inspect_items(find_inputs(images, recursive, files_from))
    backbone = None
    if settings.embeddings:
        from optik.tasks.backbone import Backbone

        backbone = Backbone.load(run.device, run.use_half(), run.weights)
    reason = (lambda result: result.reason()) if settings.gated else None
    return run_job(Checker(settings, backbone), items, run, reason)
