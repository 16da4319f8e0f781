"""The model registry: one table of models (``catalog.MODELS``), lazy loading, pulling, verifying.

>>> from optik.registry import list_models, load_model
>>> [spec.name for spec in list_models("classify")][:2]
['mobilenet_v2', 'efficientnet_lite0']
"""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING

from optik.errors import ModelUnavailable, SettingError
from optik.registry.catalog import DEFAULTS, MODELS
from optik.registry.spec import ModelSpec

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


def _plain(name: str) -> str:
    """A name without case and punctuation: ``RealESRGAN_x4plus`` and ``realesrgan-x4plus`` are the same."""
    return "".join(character for character in name.lower() if character.isalnum())


def get_spec(name: str, task: str | None = None) -> ModelSpec:
    """The row called ``name`` (case and ``-``/``_`` do not matter, so upstream spellings such as
    ``RealESRGAN_x4plus`` work), or the model in directory ``name`` (``optik train``, ``optik anomaly fit``);
    a usage error with suggestions when there is none."""
    from optik.registry import trained

    found = next((spec for spec in MODELS if spec.name == name or _plain(spec.name) == _plain(name)), None)
    if found is None and trained.is_model_dir(name):
        found = trained.read_spec(name)
    if found is not None:
        if task is not None and found.task != task:
            raise SettingError("model", f"{found.name} is a {found.task} model, not a {task} model")
        return found
    names = [spec.name for spec in list_models(task)]
    plain = {_plain(candidate): candidate for candidate in names}
    close = [plain[match] for match in difflib.get_close_matches(_plain(name), list(plain), n=3, cutoff=0.7)]
    close = close or difflib.get_close_matches(name, names, n=3)
    hint = (
        f" (did you mean {', '.join(close)}?)"
        if close
        else f"; see `optik models list{f' --task {task}' if task else ''}`"
    )
    raise SettingError("model", f"no model called {name}{hint}")


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
    from optik.registry.weights import weights_path

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
    backend: str = "auto",
) -> LoadedModel:
    """The model ready to run; loaded once per process for each (weights, device, dtype, backend).
    ``backend``: ``auto`` (the fastest measured for this model and device), ``torch``, ``onnxruntime``, or
    one of :data:`optik.registry.backends.BACKENDS`."""
    from optik.registry.loading import load

    return load(get_spec(name, task), device, half, weights, backend)


def source_kind(spec: ModelSpec) -> str:
    """``embedded``, ``download`` (torchvision), ``pull`` (converted from a registry package), ``builtin`` or
    ``local`` (a model directory made here: ``optik train``, ``optik anomaly fit``)."""
    return spec.weights.kind
