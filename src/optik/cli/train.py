"""``optik train``: a classifier for your own classes, learned on an embedded backbone (transfer learning)."""

from __future__ import annotations

import sys
import time
from typing import Any

import click

from optik.cli.common import RunOptions, TaskCommand, fail, run_options
from optik.registry.trained import BACKBONES

CSV_FIELDS = ("path", "model", "label", "train", "val", "precision", "recall", "f1")


def parse_validation(val: str) -> tuple[float | None, str | None]:
    """``--val``: a share of each class (a number) or the path of a validation set."""
    try:
        return float(val), None
    except ValueError:
        return None, val


@click.command(cls=TaskCommand)
@click.argument("data", metavar="DATA")
@click.option("-o", "--output", metavar="DIR", required=True, help="The model directory to write (new or empty).")
@click.option(
    "--backbone", type=click.Choice(BACKBONES), default=BACKBONES[0], show_default=True, help="The embedded network."
)
@click.option(
    "--val",
    metavar="SHARE|DIR|LIST",
    default="0.2",
    show_default=True,
    help="Validation images: a share of each class, or a folder / list of them (DATA's own val/ is used by itself).",
)
@click.option(
    "--views",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Views of each training image: itself, its mirror image, random crops with colour jitter.",
)
@click.option("--no-flip", is_flag=True, help="No mirror images among the views (text, digits, left/right matters).")
@click.option(
    "--unfreeze", type=click.IntRange(0), default=0, show_default=True, help="Train the backbone's last N stages too."
)
@click.option("--epochs", type=click.IntRange(1), default=100, show_default=True, help="At most this many epochs.")
@click.option(
    "--patience", type=click.IntRange(1), default=10, show_default=True, help="Stop after N epochs without progress."
)
@click.option("--lr", "learning_rate", type=float, default=1e-3, show_default=True, help="AdamW's learning rate.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, data and machine: same model.")
@click.option("--name", help="The model's name in its card [default: the directory's name].")
@click.option("--overwrite", is_flag=True, help="Replace the model in DIR.")
@run_options
def train(
    data: str,
    output: str,
    backbone: str,
    val: str,
    views: int,
    no_flip: bool,
    unfreeze: int,
    epochs: int,
    patience: int,
    learning_rate: float,
    seed: int,
    name: str | None,
    overwrite: bool,
    **options: Any,
) -> int:
    """Learn to tell your classes apart from labelled images in DATA; write the model to DIR.

    \b
    optik train photos/ -o parts-v1/           # photos/good/*.jpg, photos/scratched/*.jpg …
    optik train labels.csv -o parts-v1/ --val 0.25 --seed 1
    optik classify -r new/ --model parts-v1/ --expect good

    \b
    DATA is a folder with one sub-folder per class (with train/ and val/ inside, each is one;
    a test/ folder is never read), or a CSV (path,label) or JSON Lines list. The backbone's
    features are extracted once (with --views augmented views per training image); a new linear
    head, and with --unfreeze the last stages, trains on them with class weights, keeping the
    epoch with the lowest validation loss (Ctrl-C stops and keeps it). DIR gets the weights, a
    card (card.md, card.json), confusion.png and a manifest.
    """
    from pathlib import Path

    from optik.io.model_dir import check_model_dir
    from optik.io.outputs import check_writable
    from optik.io.training_data import read_training_data
    from optik.tasks.settings import TrainSettings

    run = RunOptions(**options)
    run.apply()
    share, val_data = parse_validation(val)
    settings = TrainSettings(
        backbone, share or TrainSettings.val, views, not no_flip, unfreeze, epochs, patience, learning_rate, seed=seed
    )
    directory = Path(output)
    check_model_dir(directory, overwrite)
    images = read_training_data(data, val_data)
    check_writable(directory)

    from optik import pipeline  # torch and OpenCV from here on: the usage errors above come at once
    from optik.errors import EXIT_INPUT_FAILED, EXIT_OK
    from optik.io.records import RecordWriter
    from optik.registry.backends import EAGER
    from optik.registry.loading import load
    from optik.registry.trained import backbone_spec
    from optik.tasks.train import learn

    run.progress.status(f"loading {backbone}…")
    model = load(backbone_spec(backbone), run.device, run.use_half(), Path(run.weights) if run.weights else None, EAGER)
    run.loaded()
    errors = run.progress.stream(sys.stderr)
    total = len(images.train.items) + (len(images.val.items) if images.val else 0)
    run.progress.start(total)
    started = time.perf_counter()
    say = (lambda text: None) if run.quiet else (lambda text: click.echo(f"optik: {text}", file=errors))

    def epoch_line(epoch: Any) -> None:
        if epoch.epoch == 1:
            run.progress.close()
            say(f"features of {total} images in {time.perf_counter() - started:.1f} s; training")
        say(epoch.line())

    trained = learn(
        model,
        images,
        settings,
        name or directory.resolve().name,
        data,
        lambda task, items: pipeline.run(task, items, run.batch_size, run.workers, run.max_pixels),
        run.progress.advance,
        epoch_line,
    )
    run.progress.close()
    for failure in trained.failures:
        fail(failure, errors)
    trained.save(directory, overwrite)
    writer = RecordWriter(run.fmt, CSV_FIELDS, sys.stdout)
    record = trained.to_record()
    rows = [{"path": record["path"], "model": record["model"], **row} for row in record["per_class"]]
    writer.write(record, trained.to_text(), rows)
    writer.close()
    if trained.interrupted:
        click.echo(f"optik: interrupted; the best epoch ({trained.best_epoch}) is kept in {directory}", err=True)
        return 130
    say(f"trained in {time.perf_counter() - started:.1f} s; `optik classify --model {directory} IMAGES…` runs it")
    return EXIT_INPUT_FAILED if trained.failures else EXIT_OK
