"""Writing a model directory (``optik train -o DIR``, ``optik anomaly fit -o DIR``): the weights as safetensors, the
model card and other files, and the manifest last, each file atomically — a reader sees the previous model or
the new one, and a directory whose writing was interrupted has no manifest (or the old one, whose checksum the new
weights then fail), never a model that silently mixes the two."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from optik.errors import UsageError
from optik.io.outputs import save_image, write_atomic
from optik.registry.trained import MANIFEST, WEIGHTS_FILE, is_model_dir

Contents = Callable[[str], tuple[dict[str, Any], Mapping[str, Any]]]


def check_model_dir(directory: Path, overwrite: bool) -> None:
    """Refuse, before any work, a target that is a file, a folder with other things in it, or (without
    ``overwrite``) a model directory."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory; a model is a directory")
    if is_model_dir(directory):
        if not overwrite:
            raise UsageError(f"{directory}: holds a model already (use --overwrite to replace it)")
    elif directory.is_dir() and any(directory.iterdir()):
        raise UsageError(f"{directory}: not empty and not a model directory; choose a new or empty one")


def write_model_dir(directory: Path, tensors: Mapping[str, Any], contents: Contents, overwrite: bool) -> Path:
    """Write ``tensors`` as the weights, then what ``contents(weights_sha256)`` gives: the manifest and the other
    files by name (text, a JSON-able mapping, or an :class:`Image`); the manifest last."""
    from safetensors.torch import save

    from optik.preprocess.decode import Image

    check_model_dir(directory, overwrite)
    data = save(dict(tensors), metadata={"format": "optik-model"})
    write_atomic(directory / WEIGHTS_FILE, data)
    manifest, files = contents(hashlib.sha256(data).hexdigest())
    for name, content in files.items():
        if isinstance(content, Image):
            save_image(content, directory / name)
        elif isinstance(content, str):
            write_atomic(directory / name, content.encode())
        else:
            write_atomic(directory / name, _json(content))
    write_atomic(directory / MANIFEST, _json(manifest))
    return directory


def _json(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()
