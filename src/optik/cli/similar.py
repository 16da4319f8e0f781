"""``optik similar``: the images of an index most like each query, with scores and contact sheets."""

from __future__ import annotations

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    find_inputs,
    image_plan,
    input_arguments,
    output_options,
    run_job,
    run_options,
)


@click.command(cls=TaskCommand)
@input_arguments
@click.option("--index", "index_dir", metavar="DIR", required=True, help="The index to search (`optik embed -o DIR`).")
@click.option("-k", "k", type=click.IntRange(1, 10_000), default=10, show_default=True, help="Hits per query.")
@click.option("--min-score", type=click.FloatRange(-1, 1), help="Leave out hits less similar than this (cosine).")
@output_options("contact sheets (the query, then its hits with their scores)")
@click.option("--draft", is_flag=True, help="Decode large JPEGs at reduced scale: faster, vectors within ~0.01.")
@run_options
def similar(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    index_dir: str,
    k: int,
    min_score: float | None,
    output: str | None,
    overwrite: bool,
    skip_existing: bool,
    draft: bool,
    **options: object,
) -> int:
    """Find the images in an index that look most like each of IMAGES (search by example).

    \b
    optik similar query.jpg --index index/
    optik similar query.jpg --index index/ -k 5 --min-score 0.6 -o sheet.png
    optik similar -r queries/ --index index/ --format csv > hits.csv

    \b
    Scores are cosine similarities of the embeddings (1: the same picture). The search is exact:
    faiss when it is installed (pip install faiss-cpu), NumPy otherwise. A query that is itself
    in the index is not its own hit. -o writes one sheet per query (a file, or a directory).
    """
    from optik.io.embedding_index import Index
    from optik.io.outputs import OutputStage
    from optik.tasks.settings import EmbedSettings, SimilarSettings
    from optik.tasks.similar import SimilarTask

    run = RunOptions(**options)
    run.apply()
    settings = SimilarSettings(k, min_score)
    index = Index.load(index_dir)
    items = find_inputs(images, recursive, files_from)
    plan = image_plan(output, items, overwrite, skip_existing) if output else None
    task = SimilarTask(run.create_task("embed", EmbedSettings(draft), index.model), index, settings)
    return run_job(task, items, run, plan=plan, stage=OutputStage(plan) if plan else None)
