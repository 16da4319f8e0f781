"""Loading weights into their modules: lazily, once per process, on the chosen device and dtype (finding and
checking the files is :mod:`optik.registry.weights`)."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from optik.errors import ModelUnavailable, SettingError
from optik.registry import backends
from optik.registry.backends import Runner
from optik.registry.device import resolve_device, resolve_dtype
from optik.registry.packages import sha256_file
from optik.registry.spec import Builtin, ModelSpec, TorchvisionWeights
from optik.registry.weights import verify, weights_path

log = logging.getLogger("optik")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from safetensors or a PyTorch checkpoint (plain, or under 'state_dict'/'model'); int8
    tensors stored with per-channel scales (``storage="int8"``) come back as float32."""
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
        if any(value.dtype == torch.int8 for value in state.values()):
            from optik.convert.quantize import dequantize_per_channel

            state = dequantize_per_channel(state)
        return state
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
    calling the model applies it to every tensor argument and runs the module through its backend
    (:mod:`optik.registry.backends`). ``module`` is the PyTorch module itself, for families that call it
    or its parts directly.
    """

    spec: ModelSpec
    module: nn.Module | None  # None for builtin OpenCV methods
    weights_sha256: str
    device: torch.device
    dtype: torch.dtype
    runner: Runner | None = None  # how calls run the module; None: eagerly

    @property
    def backend(self) -> str:
        """The backend calls run on (``opencv`` for builtin methods)."""
        if self.module is None:
            return "opencv"
        return self.runner.name if self.runner is not None else backends.EAGER

    def tensor(self, value: torch.Tensor) -> torch.Tensor:
        """``value`` on the model's device in its dtype (floating point), channels-last if the model runs so."""
        value = value.to(self.device, self.dtype if value.is_floating_point() else value.dtype)
        if self.spec.channels_last and value.dim() == 4 and backends.uses_channels_last(self.backend):
            value = value.contiguous(memory_format=torch.channels_last)
        return value

    @torch.inference_mode()
    def __call__(self, *inputs: torch.Tensor) -> Any:
        values = tuple(self.tensor(value) for value in inputs)
        return self.runner(*values) if self.runner is not None else self.module(*values)

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
            "backend": self.backend,
        }


_LOADED: dict[tuple, LoadedModel] = {}
_LOCK = threading.Lock()


def load(
    spec: ModelSpec,
    device: str | torch.device = "auto",
    half: bool = False,
    weights: Path | None = None,
    backend: str = "auto",
) -> LoadedModel:
    """Build ``spec``'s module, load its (or the user's) weights, move it; cached per process. ``backend``:
    ``auto`` (the fastest measured for this model and device), ``torch``, ``onnxruntime`` (or one of
    :data:`optik.registry.backends.BACKENDS`)."""
    if weights is not None and isinstance(spec.weights, Builtin):
        raise SettingError("weights", f"{spec.name} is a classical method without weights")
    device = resolve_device(device)
    dtype = resolve_dtype(device, half)
    parts = backends.onnxruntime_parts(backend, spec.name, device, dtype)
    backend = backends.resolve(backend, spec.name, device, dtype)
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise ModelUnavailable(f"--weights {weights}: no such file")
    else:
        path = weights_path(spec)
    key = (spec.name, str(path.resolve()), str(device), dtype, backend, parts)  # another file is another model
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
            if spec.channels_last and backends.uses_channels_last(backend):
                module = module.to(memory_format=torch.channels_last)
            module, runner = backends.prepare(backend, module, spec.name, digest, parts)
            log.info(
                "loaded %s (%s, sha256 %s…) on %s as %s, %s",
                spec.name,
                path.name,
                digest[:12],
                device,
                dtype,
                runner.name,
            )
            _LOADED[key] = LoadedModel(spec, module, digest, device, dtype, runner)
        return _LOADED[key]
