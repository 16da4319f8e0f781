"""Choosing the device and dtype once per run."""

from __future__ import annotations

import logging

import torch

from optik.errors import SettingError

log = logging.getLogger("optik")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA when usable; asking for CUDA without one is an error, never a fall-back."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise SettingError("device", f"{name} is not a device (use auto, cpu, cuda or cuda:N)") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SettingError("device", f"{name}: no usable CUDA device here (torch.cuda.is_available() is False)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise SettingError("device", f"{name}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif device.type != "cpu":
        raise SettingError("device", f"{name}: only cpu and cuda are supported")
    return device


def resolve_dtype(device: torch.device, half: bool) -> torch.dtype:
    """fp16 on CUDA when asked; on a CPU half precision warns and runs in fp32."""
    if half and device.type != "cuda":
        log.warning("half precision needs CUDA; running in float32 on %s", device)
        return torch.float32
    return torch.float16 if half else torch.float32
