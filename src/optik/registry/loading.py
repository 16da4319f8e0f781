"""Finding, checking and loading weights: lazily, once per process, on the chosen device and dtype."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optik.errors import ModelUnavailable, SettingError
from optik.registry.device import resolve_device, resolve_dtype
from optik.registry.packages import sha256_file
from optik.registry.spec import Builtin, Embedded, ModelSpec, Pulled, TorchvisionWeights

log = logging.getLogger("optik")


def models_dir() -> Path:
    """The embedded weights: ``$OPTIK_MODELS``, else ``optik/models`` of an installed package (the wheel
    carries them as package data), else the ``models/`` folder of the source checkout."""
    configured = os.environ.get("OPTIK_MODELS")
    if configured:
        return Path(configured)
    package = Path(__file__).resolve().parents[1]
    installed = package / "models"
    return installed if installed.is_dir() else package.parents[1] / "models"


def torchvision_checkpoint(source: TorchvisionWeights) -> Path:
    """Where torchvision's cache keeps (or would keep) this checkpoint."""
    url = source.weights().url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def weights_path(spec: ModelSpec) -> Path:
    """The local file of ``spec``'s weights, or :class:`ModelUnavailable` naming the fetch command."""
    source = spec.weights
    if isinstance(source, Embedded):
        path = models_dir() / source.file
        hint = "it should ship in models/; reinstall optik or rebuild with `make models`"
    elif isinstance(source, Pulled):
        path = spec.cache_path()
        hint = f"fetch it with `optik models pull {spec.name}`"
    elif isinstance(source, Builtin):
        import cv2

        path = Path(cv2.data.haarcascades) / source.data_file if source.data_file else Path(cv2.__file__)
        hint = "it should ship with OpenCV; reinstall opencv-python-headless"
    else:
        path = torchvision_checkpoint(source)
        hint = f"download it with `optik models pull {spec.name}` (needs internet)"
    if not path.exists():
        raise ModelUnavailable(f"model {spec.name} is not available here: {hint}")
    return path


def expected_sha256(spec: ModelSpec, path: Path) -> str | None:
    """The checksum the file must have (torchvision: the hash prefix in its file name)."""
    source = spec.weights
    if isinstance(source, Embedded):
        return source.sha256
    if isinstance(source, Builtin):
        return ""  # OpenCV's own file: nothing recorded to compare against
    if isinstance(source, Pulled):
        sidecar = path.with_suffix(".json")
        return json.loads(sidecar.read_text())["sha256"] if sidecar.exists() else None
    return path.stem.rsplit("-", 1)[-1]


def verify(spec: ModelSpec) -> tuple[Path, str]:
    """Return the weights file and its sha256, raising if it is missing or fails its checksum."""
    path = weights_path(spec)
    actual = sha256_file(path)
    expected = expected_sha256(spec, path)
    if expected is None or not actual.startswith(expected):
        raise ModelUnavailable(
            f"model {spec.name}: {path.name} fails its checksum (sha256 {actual[:16]}…, expected "
            f"{(expected or 'a recorded checksum')[:16]}…); re-fetch it with `optik models pull {spec.name}`"
        )
    return path, actual


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors or a PyTorch checkpoint (plain, or under 'state_dict'/'model')."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelUnavailable(f"{path.name}: not a readable checkpoint ({exc.__class__.__name__})") from exc
    for key in ("state_dict", "model", "params_ema", "params"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise ModelUnavailable(f"{path.name}: holds no state dict")
    return state


def load_weights(module: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    """Load strictly, except BatchNorm's unused ``num_batches_tracked`` counters."""
    state = {key: value.float() if value.is_floating_point() else value for key, value in state.items()}
    result = module.load_state_dict(state, strict=False)
    missing = [key for key in result.missing_keys if not key.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ModelUnavailable(
            f"{name}: weights do not fit the architecture (missing {missing[:3]}, unexpected "
            f"{result.unexpected_keys[:3]})"
        )


@dataclass
class LoadedModel:
    """A module in eval mode on its device and dtype, with what a record needs to say about it.

    :meth:`tensor` is the one place where inputs get the model's device, dtype and memory layout;
    calling the model applies it to every tensor argument.
    """

    spec: ModelSpec
    module: nn.Module | None  # None for builtin OpenCV methods
    weights_sha256: str
    device: torch.device
    dtype: torch.dtype

    def tensor(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` on the model's device in its dtype (floating point), channels-last if the model runs so."""
        value = value.to(self.device, self.dtype if value.is_floating_point() else value.dtype)
        if self.spec.channels_last and value.dim() == 4:
            value = value.contiguous(memory_format=torch.channels_last)
        return value

    @torch.inference_mode()
    def __call__(self, *inputs: torch.Tensor) -> Any:
        return self.module(*(self.tensor(value) for value in inputs))

    @property
    def dtype_name(self) -> str:
        return str(self.dtype).removeprefix("torch.")

    def provenance(self) -> dict[str, str]:
        """What every record says about the model that made it."""
        return {
            "model": self.spec.name,
            "weights_sha256": self.weights_sha256,
            "device": str(self.device),
            "dtype": self.dtype_name,
        }


_LOADED: dict[tuple, LoadedModel] = {}
_LOCK = threading.Lock()


def load(
    spec: ModelSpec, device: str | torch.device = "auto", half: bool = False, weights: Path | None = None
) -> LoadedModel:
    """Build ``spec``'s module, load its (or the user's) weights, move it; cached per process."""
    if weights is not None and isinstance(spec.weights, Builtin):
        raise SettingError("weights", f"{spec.name} is a classical method without weights")
    device = resolve_device(device)
    dtype = resolve_dtype(device, half)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise ModelUnavailable(f"--weights {weights}: no such file")
    else:
        path = weights_path(spec)
    key = (spec.name, str(path.resolve()), str(device), dtype)  # a different file is a different model
    with _LOCK:
        if key not in _LOADED:
            if weights is not None or isinstance(spec.weights, TorchvisionWeights):
                # torchvision's own weights: as in torchvision, the hash is checked on download (`models pull`)
                # and by `models verify`
                digest = sha256_file(path)
            else:
                path, digest = verify(spec)
            if isinstance(spec.weights, Builtin):
                _LOADED[key] = LoadedModel(spec, None, digest, torch.device("cpu"), torch.float32)
                return _LOADED[key]
            module = spec.build()
            load_weights(module, read_state_dict(path), spec.name)
            module = module.eval().to(device=device, dtype=dtype)
            if spec.channels_last:
                module = module.to(memory_format=torch.channels_last)
            log.info("loaded %s (%s, sha256 %s…) on %s as %s", spec.name, path.name, digest[:12], device, dtype)
            _LOADED[key] = LoadedModel(spec, module, digest, device, dtype)
        return _LOADED[key]
