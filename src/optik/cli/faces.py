"""``optik faces``: enroll people from folders of their photos, identify faces in images, cluster unknown faces.

The face database is a local directory (the index format of ``optik embed``: a manifest, the descriptors,
one row per enrolled photo with the person's name); nothing leaves the machine.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    engine_options,
    find_inputs,
    image_plan,
    input_arguments,
    output_options,
    run_index_update,
    run_job,
    run_options,
)


def _detection_options(command: Any) -> Any:
    for decorator in reversed(
        (
            click.option(
                "--conf",
                type=click.FloatRange(0, 1),
                default=0.95,
                show_default=True,
                help="Detector score a face needs (MTCNN; below ~0.95 wheels and patterns pass for faces).",
            ),
            click.option(
                "--imgsz",
                type=click.IntRange(32, 8192),
                help="Find faces on a copy whose longer side is at most this (faster on large photos).",
            ),
        )
    ):
        command = decorator(command)
    return command


@click.group()
def faces() -> None:
    """Face recognition with dlib's descriptor: enroll, identify, cluster (see the README on responsible use)."""


@faces.command(cls=TaskCommand)
@input_arguments
@click.option("-o", "--output", metavar="DB", required=True, help="The face database directory (created or updated).")
@click.option("--name", metavar="NAME", help="Enroll every image as this person (instead of one folder per person).")
@click.option("--append", is_flag=True, help="Keep the people and photos already in DB that are not among IMAGES.")
@_detection_options
@run_options
def enroll(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    output: str,
    name: str | None,
    append: bool,
    conf: float,
    imgsz: int | None,
    **options: object,
) -> int:
    """Enroll the people in PEOPLE/ (one folder per person, named after them; read recursively) into a face database.

    \b
    optik faces enroll people/ -o faces-db/          # people/alice/*.jpg, people/bob/*.jpg …
    optik faces enroll new/*.jpg --name carol -o faces-db/ --append

    \b
    Each photo must show the person's face clearly: the only face, or one at least twice the
    area of any other. Several photos per person (other days, light, angles) identify better.
    Photos already enrolled and unchanged are not read again.
    """
    from optik.io.embedding_index import IndexUpdate
    from optik.tasks.faces import enrolment_face
    from optik.tasks.settings import FacesSettings

    run = RunOptions(**options)
    run.apply()
    settings = FacesSettings(conf, None, imgsz)
    items = find_inputs(images, True, files_from)

    def person(item: Any) -> str:
        if name:
            return name
        if len(item.relative.parts) < 2:
            from optik.errors import InputError

            raise InputError(f"{item.source}: put it in a folder named after the person, or give --name")
        return item.relative.parts[0]

    def entries(item: Any, result: Any) -> list:
        face = enrolment_face(result)
        row = {"name": person(item), "box": [round(v, 2) for v in face.box], "score": round(face.score, 6)}
        return [(row, face.descriptor)]

    task = run.create_task("faces", settings, None)
    update = IndexUpdate(output, task.name, task.model.weights_sha256, entries, append)
    return run_index_update(task, items, run, update)


@faces.command(cls=TaskCommand)
@input_arguments
@click.option("--db", metavar="DB", required=True, help="The face database (`optik faces enroll … -o DB`).")
@click.option(
    "--threshold",
    type=click.FloatRange(0, 2, min_open=True),
    help="The same person below this descriptor distance [default: dlib's 0.6].",
)
@_detection_options
@output_options("the images with each face's box and name (or, with --redact-unknown, unknown faces hidden)")
@click.option(
    "--redact-unknown",
    type=click.Choice(("blur", "pixelate", "fill")),
    help="With -o: hide every face that is not an enrolled person; draw nothing else.",
)
@click.option("--expect-person", metavar="NAME[,NAME…]", help="Fail (exit 1) unless each of these is in the image.")
@run_options
@engine_options
def identify(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    db: str,
    threshold: float | None,
    conf: float,
    imgsz: int | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    redact_unknown: str | None,
    expect_person: str | None,
    **options: object,
) -> int:
    """Name the faces in IMAGES after the enrolled people (or `unknown`), with their distances.

    \b
    optik faces identify photo.jpg --db faces-db/
    optik faces identify -r shots/ --db faces-db/ --redact-unknown blur -o public/
    optik faces identify badge.jpg --db faces-db/ --expect-person alice      # CI check (exit 1)

    \b
    A face is the nearest enrolled person when its descriptor is closer than --threshold (dlib's
    0.6: 99.38 % on LFW pairs), else unknown. The distance is in every record.
    """
    from optik.errors import UsageError
    from optik.io.embedding_index import Index
    from optik.io.outputs import OutputStage
    from optik.tasks.faces import FaceGallery
    from optik.tasks.settings import FacesSettings

    run = RunOptions(**options)
    run.apply()
    if redact_unknown and not output:
        raise UsageError("--redact-unknown writes the redacted images: give -o FILE, -o DIR/ or -o -")
    database = Index.load(db)
    gallery = FaceGallery.from_table(database.model, database.rows, database.vectors)
    expected = [person.strip() for person in (expect_person or "").split(",") if person.strip()]
    unknown = [person for person in expected if person not in gallery.people]
    if unknown:
        raise UsageError(f"--expect-person {','.join(unknown)}: not enrolled in {db} ({', '.join(gallery.people)})")
    settings = FacesSettings(conf, threshold, imgsz, gallery)
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing) if output else None
    task = run.create_task("faces", settings, database.model)
    stage = OutputStage(plan, lambda result: result.render(redact_unknown)) if plan else None

    def check(result: Any) -> str | None:
        found = result.names()
        missing = [person for person in expected if not found[person]]
        if not missing:
            return None
        seen = ", ".join(f"{n} {who}" for who, n in found.most_common()) or "no face"
        return f"{' and '.join(missing)} not found (found {seen})"

    return run_job(task, items, run, check if expected else None, plan, stage)


@faces.command(cls=TaskCommand)
@input_arguments
@click.option(
    "--threshold",
    type=click.FloatRange(0, 2, min_open=True),
    default=0.5,
    show_default=True,
    help="Faces closer than this (and chains of them) are one cluster; lower: stricter.",
)
@click.option("--db", metavar="DB", help="Leave out the faces of people enrolled in this database.")
@_detection_options
@click.option("-o", "--output", metavar="SHEET.png", help="A contact sheet of the faces, cluster by cluster.")
@click.option("--overwrite", is_flag=True, help="Replace an existing sheet.")
@run_options
def cluster(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    threshold: float,
    db: str | None,
    conf: float,
    imgsz: int | None,
    output: str | None,
    overwrite: bool,
    **options: object,
) -> int:
    """Group the faces in IMAGES by person, without names (people nobody enrolled).

    \b
    optik faces cluster -r party/ --format jsonl
    optik faces cluster -r party/ --db faces-db/ -o unknown.png     # the unknown faces, on a sheet

    \b
    Records: one per cluster, largest first, with every face's image and box.
    """
    from pathlib import Path

    from optik.cli.collect import collect
    from optik.errors import EXIT_INPUT_FAILED, EXIT_OK, UsageError
    from optik.io.embedding_index import Index
    from optik.io.outputs import save_image
    from optik.io.records import RecordWriter
    from optik.preprocess.headers import OUTPUT_EXTENSIONS
    from optik.tasks.faces import CLUSTER_CSV_FIELDS, FaceGallery, cluster_sheet, clusters_of
    from optik.tasks.settings import FacesSettings

    run = RunOptions(**options)
    run.apply()
    if output is not None:
        if Path(output).suffix.lower() not in OUTPUT_EXTENSIONS:
            raise UsageError(f"-o {output}: name an image file (.png, .jpg, …)")
        if Path(output).exists() and not overwrite:
            raise UsageError(f"-o {output}: exists (use --overwrite to replace it)")
    gallery = None
    if db is not None:
        database = Index.load(db)
        gallery = FaceGallery.from_table(database.model, database.rows, database.vectors)
    items = find_inputs(images, recursive, files_from)
    task = run.create_task("faces", FacesSettings(conf, None, imgsz, gallery), gallery.model if gallery else None)
    results, failed = collect(task, items, run)
    clusters = clusters_of([result for _, result in results], threshold, unknown_only=gallery is not None)
    writer = RecordWriter(run.fmt, CLUSTER_CSV_FIELDS, run.progress.stream(sys.stdout))
    for found in clusters:
        writer.write(found.to_record(), found.to_text(), found.csv_rows())
    writer.close()
    if output is not None and clusters:
        save_image(cluster_sheet(clusters), Path(output))
    if not run.quiet:
        faces_count = sum(len(c.members) for c in clusters)
        click.echo(f"optik: {len(results)} images, {faces_count} faces, {len(clusters)} clusters", err=True)
    return EXIT_INPUT_FAILED if failed else EXIT_OK
