"""``optik detect``: COCO objects and faces; boxes, annotated images, crops, redaction, labels, CI checks."""

from __future__ import annotations

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
    remote_target,
    run_job,
    run_options,
)


def _names(value: str | None) -> tuple[str, ...]:
    return tuple(word.strip() for word in value.split(",") if word.strip()) if value else ()


def _labels_format(target: str | None, asked: str | None) -> str | None:
    """yolo (a directory) or coco (one .json file); a usage error for a target that cannot hold them."""
    from pathlib import Path

    from optik.errors import UsageError

    if target is None:
        return None
    if target in ("", "-"):
        raise UsageError(f"--labels-out {target!r}: name a directory (yolo) or a .json file (coco), not stdout")
    chosen = asked or ("coco" if target.lower().endswith(".json") else "yolo")
    if remote_target("--labels-out", target):
        if chosen == "coco":
            raise UsageError(f"--labels-out {target}: a COCO document is written here, to a local file")
        return chosen
    path = Path(target)
    if chosen == "yolo" and path.exists() and not path.is_dir():
        raise UsageError(f"--labels-out {target}: yolo labels go in a directory, and this is a file")
    if chosen == "coco" and (path.is_dir() or (path.exists() and not path.is_file())):
        raise UsageError(f"--labels-out {target}: a COCO document is one regular file, and this is not")
    return chosen


@click.command(cls=TaskCommand)
@input_arguments
@model_option("detect")
@click.option("--classes", metavar="NAME[,NAME…]", help="Keep only these classes (e.g. person,dog).")
@click.option("--conf", type=click.FloatRange(0, 1), default=0.35, show_default=True, help="Minimum score.")
@click.option("--iou", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="Class-wise NMS IoU.")
@click.option("--max-det", type=click.IntRange(1), default=100, show_default=True, help="Most detections per image.")
@click.option(
    "--imgsz",
    type=click.IntRange(32, 8192),
    help="Network input size: NanoDet's square (multiple of 32, 416); torchvision's shorter side; "
    "mtcnn/haar-face: downscale so the longer side is at most this.",
)
@output_options("annotated (with --redact, redacted) images")
@click.option("--crops", metavar="DIR", help="Save every detection as its own image below DIR.")
@click.option(
    "--redact",
    type=click.Choice(("blur", "pixelate", "fill")),
    help="With -o: hide every detected region instead of drawing boxes.",
)
@click.option("--labels-out", metavar="DIR|FILE", help="Training labels: a directory (yolo) or a .json file (coco).")
@click.option(
    "--labels-format",
    type=click.Choice(("yolo", "coco")),
    help="yolo: DIR/<image>.txt + classes.txt; coco: one JSON document  [default: coco for *.json, else yolo]",
)
@click.option("--expect", metavar="LABEL[,LABEL…]", help="Fail (exit 1) unless each of these is found.")
@click.option("--min-count", type=click.IntRange(0), help="Fail (exit 1) with fewer detections per image.")
@click.option("--max-count", type=click.IntRange(0), help="Fail (exit 1) with more detections per image.")
@run_options
@engine_options
def detect(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    model: str | None,
    classes: str | None,
    conf: float,
    iou: float,
    max_det: int,
    imgsz: int | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    crops: str | None,
    redact: str | None,
    labels_out: str | None,
    labels_format: str | None,
    expect: str | None,
    min_count: int | None,
    max_count: int | None,
    **options: object,
) -> int:
    """Find COCO objects (or faces) in IMAGES: boxes in original pixels, best first.

    \b
    optik detect photo.jpg
    optik detect -r photos/ --classes person,dog --format jsonl > found.jsonl
    optik detect street.jpg -o annotated.jpg --crops crops/
    optik detect -r photos --model mtcnn --redact blur -o anonymised/
    optik detect frames/ --labels-out labels/ --conf 0.5                 # YOLO .txt per image
    optik detect shelf.jpg --expect person --max-count 3                  # CI check (exit 1)

    \b
    -o writes a file (one input), a directory (inputs mirrored below it) or - (the image on
    stdout; the records then go to stderr). --crops names files IMAGE.NN.LABEL.EXT.
    """
    import os
    from pathlib import Path

    from optik.errors import UsageError
    from optik.io.labels import CocoLabels, YoloLabels, category_ids
    from optik.io.outputs import OutputPlan, OutputStage
    from optik.tasks.checks import check_counts
    from optik.tasks.settings import DetectSettings, unknown_labels

    run = RunOptions(**options)
    run.apply()
    if redact and not output:
        raise UsageError("--redact writes the redacted images: give -o FILE, -o DIR/ or -o -")
    if labels_format and not labels_out:
        raise UsageError("--labels-format needs --labels-out")
    labels_format = _labels_format(labels_out, labels_format)
    if min_count is not None and max_count is not None and min_count > max_count:
        raise UsageError(f"--min-count {min_count} is above --max-count {max_count}")
    settings = DetectSettings(conf, iou, max_det, _names(classes), imgsz)
    expected = _names(expect)
    outside = [label for label in expected if settings.classes and label not in settings.classes]
    if outside:
        raise UsageError(f"--expect {','.join(outside)} is not among --classes {classes}")
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing) if output else None
    crop_plan = None
    if crops:
        crops = crops.rstrip("/") + "/" if remote_target("--crops", crops) else str(Path(crops)) + os.sep
        crop_plan = OutputPlan.create(crops, items, overwrite=overwrite)
    detector = run.create_task("detect", settings, model)
    why = unknown_labels(expected, detector.labels)
    if why:
        raise UsageError(f"--expect: {detector.name} has {why}")
    labels = None
    if labels_out is not None:
        labels = (
            CocoLabels(labels_out, items, detector.labels, category_ids(detector.labels), overwrite)
            if labels_format == "coco"
            else YoloLabels(labels_out, items, detector.labels, overwrite)
        )
    stage = OutputStage(plan, lambda result: result.render(redact), crop_plan, labels)
    checking = bool(expected) or min_count is not None or max_count is not None
    check = (lambda result: check_counts(result, expected, min_count, max_count)) if checking else None
    return run_job(detector, items, run, check, plan, stage)
