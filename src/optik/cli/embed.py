"""``optik embed``: image embeddings, on stdout or into an index directory that ``similar`` and ``dedupe`` read."""

from __future__ import annotations

import click

from optik.cli.common import (
    RunOptions,
    TaskCommand,
    engine_options,
    find_inputs,
    input_arguments,
    model_option,
    run_index_update,
    run_job,
    run_options,
)


@click.command(cls=TaskCommand)
@input_arguments
@model_option("embed")
@click.option("-o", "--output", metavar="DIR", help="Write the vectors into this index directory (created or updated).")
@click.option("--append", is_flag=True, help="Add to the index in DIR; keep the files it holds that are not inputs.")
@click.option("--draft", is_flag=True, help="Decode large JPEGs at reduced scale: faster, vectors within ~0.01.")
@run_options
@engine_options
def embed(
    images: tuple[str, ...],
    recursive: bool,
    files_from: str | None,
    model: str | None,
    output: str | None,
    append: bool,
    draft: bool,
    **options: object,
) -> int:
    """Turn IMAGES into unit vectors for search by example (`optik similar`) and dedupe.

    \b
    optik embed -r photos/ -o index/            # build, or bring up to date: only new and changed files run
    optik embed new/*.jpg -o index/ --append    # add to it
    optik embed photo.jpg --format jsonl        # the vector in the record (no -o)
    optik embed -r s3://bucket/photos/ --engine ray --records s3://bucket/vectors/   # on Ray (no -o)

    \b
    With -o the index holds exactly IMAGES afterwards (--append: also what it held before, as
    long as those files exist); files whose size, time or sha256 did not change are not read
    again. The index is plain files (index.json, vectors-N.npy, index-N.jsonl), replaced
    atomically; see the README.
    """
    from optik.errors import UsageError
    from optik.io.embedding_index import Index, IndexUpdate
    from optik.tasks.settings import EmbedSettings

    run = RunOptions(**options)
    run.apply()
    settings = EmbedSettings(draft)
    if append and output is None:
        raise UsageError("--append adds to an index: give -o DIR")
    if output is not None and run.engine == "ray":
        raise UsageError("-o DIR builds one index here, on the local engine; --engine ray gives the records")
    items = find_inputs(images, recursive, files_from)
    if output is None:
        return run_job(run.create_task("embed", settings, model), items, run)
    if model is None and Index.exists(output):
        model = Index.load(output).model  # an index keeps its model
    task = run.create_task("embed", settings, model)
    update = IndexUpdate(output, task.name, task.model.weights_sha256, lambda _, result: result.index_rows(), append)
    return run_index_update(task, items, run, update)
