"""Task modules: each a settings dataclass (:mod:`optik.tasks.settings`), results, and the family adapters
that run a model's prepare → forward → finish. :func:`create_task` binds a model to its adapter."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from optik.errors import SettingError

if TYPE_CHECKING:
    from optik.registry.loading import LoadedModel
    from optik.tasks.base import Family


def create_task(
    task: str,
    settings: Any,
    model: str | LoadedModel | None = None,
    device: str = "auto",
    half: bool = False,
    weights: str | Path | None = None,
    backend: str = "auto",
) -> Family:
    """The family adapter of ``model`` (a name, an already loaded model, or None: the task's default)
    for ``task``, with ``settings`` checked against its row."""
    from optik.registry import default_model, get_spec, load_model

    if model is None or isinstance(model, str):
        spec = get_spec(model, task) if model else default_model(task)
        settings.check(spec)  # before the (slow) load
        loaded = load_model(spec.name, device, half, Path(weights) if weights else None, task, backend)
    else:
        if model.spec.task != task:
            raise SettingError("model", f"{model.spec.name} is a {model.spec.task} model, not a {task} model")
        loaded = model
    return loaded.spec.adapter()(loaded, settings)
