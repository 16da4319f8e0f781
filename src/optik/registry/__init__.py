"""The model registry: one table of models (``catalog.MODELS``), lazy loading, pulling, verifying.

>>> from optik.registry import list_models, load_model
>>> [spec.name for spec in list_models("classify")][:2]
['mobilenet_v2', 'efficientnet_lite0']
"""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING

from optik.errors import ModelUnavailable, UsageError
from optik.registry.catalog import DEFAULTS, MODELS
from optik.registry.spec import Builtin, Embedded, ModelSpec, Pulled, TorchvisionWeights

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from optik.registry.loading import LoadedModel

__all__ = [
    "DEFAULTS",
    "ModelSpec",
    "default_model",
    "get_spec",
    "is_available",
    "is_default",
    "list_models",
    "load_model",
]
log = logging.getLogger("optik")


def list_models(task: str | None = None) -> list[ModelSpec]:
    """Every registered model, or those of one task, in table order."""
    return [spec for spec in MODELS if task is None or spec.task == task]


def get_spec(name: str, task: str | None = None) -> ModelSpec:
    """The row called ``name``; a usage error with suggestions when there is none."""
    for spec in MODELS:
        if spec.name == name:
            if task is not None and spec.task != task:
                raise UsageError(f"model {name} is a {spec.task} model, not a {task} model")
            return spec
    names = [spec.name for spec in list_models(task)]
    close = difflib.get_close_matches(name, names, n=3)
    hint = (
        f" (did you mean {', '.join(close)}?)"
        if close
        else f"; see `optik models list{f' --task {task}' if task else ''}`"
    )
    raise UsageError(f"no model called {name}{hint}")


def default_model(task: str) -> ModelSpec:
    """The task's default: the first of its ``DEFAULTS`` that is available here; a fallback is logged."""
    preferred, *others = (get_spec(name, task) for name in DEFAULTS[task])
    if not others or is_available(preferred):
        return preferred
    fallback = next((spec for spec in others if is_available(spec)), others[-1])
    log.warning(
        "%s is not pulled, using %s (%s); `optik models pull %s` to change that",
        preferred.name,
        fallback.name,
        fallback.summary,
        preferred.name,
    )
    return fallback


def is_default(spec: ModelSpec) -> bool:
    """Whether ``spec`` is its task's preferred default."""
    return DEFAULTS.get(spec.task, ("",))[0] == spec.name


def is_available(spec: ModelSpec) -> bool:
    """Whether the weights are on this machine (embedded, pulled or in torchvision's cache)."""
    from optik.registry.loading import weights_path

    try:
        weights_path(spec)
    except ModelUnavailable:
        return False
    return True


def load_model(
    name: str,
    device: str | torch.device = "auto",
    half: bool = False,
    weights: Path | None = None,
    task: str | None = None,
) -> LoadedModel:
    """The model ready to run; loaded once per process for each (weights, device, dtype)."""
    from optik.registry.loading import load

    return load(get_spec(name, task), device, half, weights)


def source_kind(spec: ModelSpec) -> str:
    """``embedded``, ``download`` (torchvision), ``pull`` (converted from a registry package) or ``builtin``."""
    return {Embedded: "embedded", TorchvisionWeights: "download", Pulled: "pull", Builtin: "builtin"}[
        type(spec.weights)
    ]
