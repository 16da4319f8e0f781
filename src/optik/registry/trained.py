"""Models made here from the user's own images — classifiers (``optik train``) and anomaly detectors (``optik anomaly
fit``) — as registry rows: a model directory holds the weights (safetensors), a model card and a manifest
(:data:`MANIFEST`), and :func:`read_spec` turns the manifest into a :class:`TrainedSpec` that loads and runs like
an embedded model (same family adapter, same input spec as its backbone, checksum checked on every load).

The manifest names its backbone (an embedded catalog row), never code: the architecture and the family adapter
come from the backbone's row and the task, so a model directory from elsewhere cannot make optik import anything.
Plain data: reading it loads neither torch nor OpenCV.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from optik.errors import ModelUnavailable
from optik.preprocess.spec import InputSpec
from optik.registry.families import AnomalyConfig
from optik.registry.spec import LocalFile, ModelSpec

MANIFEST = "optik-model.json"
FORMAT, VERSION = "optik-model", 1
WEIGHTS_FILE, CARD_FILE = "model.safetensors", "card.md"
#: The embedded backbones that can be trained on or fitted with (their nets have ``stages()`` and ``fc``).
BACKBONES = ("mobilenet_v2", "efficientnet_lite0")
ANOMALY_ARCHITECTURE = "optik.nets.patchcore:PatchCore"
ANOMALY_FAMILY = "optik.tasks.anomaly:AnomalyScorer"


@dataclass(frozen=True)
class TrainedSpec(ModelSpec):
    """A row read from a model directory: the classes are the user's, the backbone is an embedded row."""

    classes: tuple[str, ...] = ()
    backbone: str = ""
    directory: str = ""

    def categories(self) -> list[str]:
        return list(self.classes)


def is_model_dir(name: str | Path) -> bool:
    """Whether ``name`` is a directory holding a model's manifest."""
    return (Path(name) / MANIFEST).is_file()


def backbone_spec(name: str) -> ModelSpec:
    """The embedded classify row of backbone ``name``."""
    from optik.registry.catalog import MODELS

    if name not in BACKBONES:
        raise ModelUnavailable(f"{name} is not a backbone optik trains on ({', '.join(BACKBONES)})")
    return next(spec for spec in MODELS if spec.name == name and spec.task == "classify")


def manifest(
    name: str,
    task: str,
    backbone: str,
    weights_sha256: str,
    input_spec: InputSpec,
    summary: str,
    classes: tuple[str, ...] = (),
    architecture_kwargs: dict[str, Any] | None = None,
    config: AnomalyConfig | None = None,
) -> dict[str, Any]:
    """The manifest of a model directory (what :func:`read_spec` reads back)."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "name": name,
        "task": task,
        "summary": summary,
        "backbone": backbone,
        "weights": {"file": WEIGHTS_FILE, "sha256": weights_sha256},
        "input": asdict(input_spec),
        "card": CARD_FILE,
    }
    if classes:
        document["classes"] = list(classes)
    if architecture_kwargs:
        document["architecture_kwargs"] = architecture_kwargs
    if config is not None:
        document["config"] = asdict(config)
    return document


def read_spec(directory: str | Path) -> TrainedSpec:
    """The registry row of the model in ``directory``; its name is the directory as given (so that it names the
    same model again), its weights the directory's file with the manifest's checksum."""
    path = Path(directory)
    try:
        document = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if document.get("format") != FORMAT or document.get("version") != VERSION:
            raise ModelUnavailable(f"{directory}: not an optik model directory of version {VERSION}")
        backbone = backbone_spec(document["backbone"])
        weights = LocalFile(str(path / document["weights"]["file"]), document["weights"]["sha256"])
        spec_input = InputSpec(**{f.name: _plain(document["input"][f.name]) for f in fields(InputSpec)})
        task, classes = document["task"], tuple(document.get("classes", ()))
        common = dict(
            name=os.path.normpath(str(directory)),
            task=task,
            summary=document["summary"],
            weights=weights,
            input=spec_input,
            channels_last=backbone.channels_last,
            licence=f"yours (backbone {backbone.name}: {backbone.licence})",
            reference=f"trained with optik on {backbone.name}; card: {path / document['card']}",
            classes=classes,
            backbone=backbone.name,
            directory=str(path),
        )
        if task == "classify":
            return TrainedSpec(
                architecture=backbone.architecture,
                family=backbone.family,
                architecture_kwargs={"num_classes": len(classes)},
                **common,
            )
        if task == "anomaly":
            return TrainedSpec(
                architecture=ANOMALY_ARCHITECTURE,
                family=ANOMALY_FAMILY,
                architecture_kwargs={"backbone": backbone.name, **_kwargs(document["architecture_kwargs"])},
                config=AnomalyConfig(**document["config"]),
                **common,
            )
        raise ModelUnavailable(f"{directory}: a {task} model, which optik cannot run")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"{directory}: unreadable model manifest ({exc.__class__.__name__}: {exc})") from None


def _plain(value: Any) -> Any:
    """JSON lists back as the tuples the dataclasses hold."""
    return tuple(value) if isinstance(value, list) else value


def _kwargs(values: dict[str, Any]) -> dict[str, Any]:
    """Architecture arguments: numbers and tuples of numbers only."""
    plain = {key: _plain(value) for key, value in values.items()}
    for key, value in plain.items():
        numbers = value if isinstance(value, tuple) else (value,)
        if not all(isinstance(number, int | float) and not isinstance(number, bool) for number in numbers):
            raise ValueError(f"architecture argument {key} is not numeric")
    return plain
