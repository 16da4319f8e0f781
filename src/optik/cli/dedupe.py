"""``optik dedupe``: groups of duplicate images, the copy to keep of each, and (only when asked) the others
moved aside or deleted."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

import click

from optik.cli.common import RunOptions, TaskCommand, fail, find_inputs, input_arguments, model_option, run_options
from optik.tasks.settings import DEDUPE_LEVELS, KEEP_RULES, DedupeSettings


def _default_similarity() -> str:
    from optik.registry import DEFAULTS, get_spec

    spec = get_spec(DEFAULTS["embed"][0])
    return f"{spec.config.same_scene:g} for {spec.name}"


@click.command(cls=TaskCommand)
@input_arguments
@click.option(
    "--index", "index_dir", metavar="DIR", help="Dedupe the files of this index instead (nothing is re-read)."
)
@model_option("embed")
@click.option(
    "--level",
    type=click.Choice(DEDUPE_LEVELS),
    default=DedupeSettings.level,
    show_default=True,
    help="exact: the same bytes; near: also re-encoded, resized, slightly recoloured copies (perceptual hash); "
    "scene: also crops, edits and other shots of the same scene (embeddings).",
)
@click.option(
    "--hash-distance",
    type=click.IntRange(0, 32),
    default=DedupeSettings.hash_distance,
    show_default=True,
    help="near: at most this many of the 64 perceptual-hash bits differ.",
)
@click.option(
    "--similarity",
    type=click.FloatRange(0, 1),
    help=f"scene: embeddings at least this alike (cosine) [default: the model's, {_default_similarity()}].",
)
@click.option(
    "--keep",
    type=click.Choice(KEEP_RULES),
    default=DedupeSettings.keep,
    show_default=True,
    help="Which copy of each group stays: most pixels, sharpest, or oldest file.",
)
@click.option("--move-to", metavar="DIR", help="Move the duplicates (never the kept copy) below DIR.")
@click.option("--delete", is_flag=True, help="Delete the duplicates (never the kept copy).")
@click.option("--dry-run", is_flag=True, help="With --move-to or --delete: say what would be done, do nothing.")
@click.option("--draft", is_flag=True, help="Decode large JPEGs at reduced scale: faster.")
@run_options
def dedupe(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    index_dir: str | None,
    model: str | None,
    level: str,
    hash_distance: int,
    similarity: float | None,
    keep: str,
    move_to: str | None,
    delete: bool,
    dry_run: bool,
    draft: bool,
    **options: object,
) -> int:
    """Find duplicate images among IMAGES (or the files of an index) and choose one copy of each to keep.

    \b
    optik dedupe -r photos/                              # list the groups; nothing is touched
    optik dedupe -r photos/ --level scene --format csv > groups.csv
    optik dedupe --index index/ --keep sharpest --move-to dupes/
    optik dedupe -r photos/ --level exact --delete       # byte-identical copies only

    \b
    Nothing is moved or deleted unless --move-to or --delete is given, and never the kept copy;
    a file that changed since it was examined is left alone. --move-to keeps each file's path
    below the inputs' common folder. Records: one per group (json, jsonl, csv, text).
    """
    from optik.errors import EXIT_INPUT_FAILED, EXIT_OK, UsageError
    from optik.io.embedding_index import Index, file_facts
    from optik.io.file_actions import common_root
    from optik.io.records import RecordWriter
    from optik.registry import get_spec
    from optik.tasks.dedupe import CSV_FIELDS, Photo, find_groups
    from optik.tasks.settings import EmbedSettings

    run = RunOptions(**options)
    run.apply()
    settings = DedupeSettings(level, hash_distance, similarity, keep)
    if move_to and delete:
        raise UsageError("--move-to and --delete contradict each other")
    if dry_run and not (move_to or delete):
        raise UsageError("--dry-run is for --move-to or --delete (without them nothing is touched anyway)")
    if bool(index_dir) == bool(images or files_from):
        raise UsageError("give IMAGES or --index DIR (one of them)")
    failed = 0
    if index_dir:
        index = Index.load(index_dir)
        present = [i for i, row in enumerate(index.rows) if Path(row["path"]).is_file()]
        photos = [Photo.from_row(index.rows[i]) for i in present]
        vectors, model_name = index.vectors[present], index.model
    else:
        from optik.cli.collect import collect

        items = find_inputs(images, recursive, files_from)
        if any(item.is_stdin for item in items):
            raise UsageError("dedupe works on files, not stdin")
        task = run.create_task("embed", EmbedSettings(draft), model)
        results, failed = collect(task, items, run)
        photos = [Photo.from_result(item.source, file_facts(item.source), result) for item, result in results]
        vectors, model_name = _stack([r.vector for _, r in results]), task.name
    groups = find_groups(photos, vectors, settings, get_spec(model_name).config.same_scene)
    destination, root = Path(move_to) if move_to else None, common_root([p.path for p in photos])
    errors = run.progress.stream(sys.stderr)
    writer = RecordWriter(run.fmt, CSV_FIELDS, run.progress.stream(sys.stdout))
    for group in groups:
        if destination is not None or delete:
            failed += _act(group, destination, root, dry_run, errors)
        writer.write(group.to_record(), group.to_text(), group.csv_rows())
    writer.close()
    if not run.quiet:
        duplicates = sum(len(g.duplicates) for g in groups)
        size = sum(d.photo.size for g in groups for d in g.duplicates)
        done = "dry run" if dry_run else "moved" if move_to else "deleted" if delete else "listed only, nothing touched"
        click.echo(
            f"optik: {len(photos)} images, {len(groups)} groups, {duplicates} duplicates ({size / 1e6:.1f} MB; {done})",
            err=True,
        )
    return EXIT_INPUT_FAILED if failed else EXIT_OK


def _act(group: Any, destination: Path | None, root: Path, dry_run: bool, errors: TextIO) -> int:
    """Move aside (``destination``) or delete the group's duplicates, or say what would be done; each one's
    ``action`` says what happened. Returns how many were left alone because of trouble (each said on stderr)."""
    from optik.errors import OptikError
    from optik.io.file_actions import delete, move_aside, moved_path

    troubles = 0
    for duplicate in group.duplicates:
        photo = duplicate.photo
        if dry_run:
            target = moved_path(photo.path, destination, root) if destination else None
            duplicate.action = f"would move to {target}" if target else "would delete"
            continue
        try:
            if destination is not None:
                duplicate.action = f"moved to {move_aside(photo.path, photo.size, photo.mtime_ns, destination, root)}"
            else:
                delete(photo.path, photo.size, photo.mtime_ns)
                duplicate.action = "deleted"
        except (OptikError, OSError) as exc:
            troubles += 1
            duplicate.action = f"left alone: {exc}"
            fail(str(exc), errors)
    return troubles


def _stack(vectors: list) -> Any:
    import numpy as np

    return np.stack(vectors) if vectors else np.zeros((0, 1), np.float32)
