"""Symmetric int8 storage of weights, one float32 scale per output channel.

:func:`quantize_per_channel` turns every floating tensor of at least two dimensions (conv kernels,
linear matrices; dimension 0 = output channels) into int8 values ``round(w / scale)`` in
[-127, 127] with ``scale = max |w| / 127`` over each output channel, stored next to it as
``"<key>.scale"``. Vectors (biases, norm and affine parameters) stay as they are; the matrices
named in ``float16`` are stored in float16 instead (a layer whose int8 error matters more than its
size). :func:`dequantize_per_channel` undoes it, so a loader can read either form. A key names a
parameter, so ``"<key>.scale"`` never collides with a module's own parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import torch

SCALE_SUFFIX = ".scale"
INT8_MAX = 127


def _int8_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    weight = weight.float()
    amax = weight.abs().amax(dim=tuple(range(1, weight.dim())), keepdim=True)
    scale = torch.where(amax > 0, amax / INT8_MAX, torch.ones_like(amax))
    values = torch.round(weight / scale).clamp_(-INT8_MAX, INT8_MAX).to(torch.int8)
    return values, scale.reshape(-1).contiguous()


def quantize_per_channel(state: Mapping[str, torch.Tensor], float16: Collection[str] = ()) -> dict[str, torch.Tensor]:
    """int8 values and float32 per-output-channel scales for every floating tensor of ≥ 2 dimensions,
    except the keys in ``float16`` (stored as float16); other tensors unchanged."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not value.is_floating_point() or value.dim() < 2:
            out[key] = value
        elif key in float16:
            out[key] = value.half()
        else:
            out[key], out[key + SCALE_SUFFIX] = _int8_per_channel(value)
    return out


def dequantize_per_channel(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state dict back from :func:`quantize_per_channel`: ``int8 * scale`` per output
    channel, other floating tensors widened to float32."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if key.endswith(SCALE_SUFFIX) and key.removesuffix(SCALE_SUFFIX) in state:
            continue
        scale = state.get(key + SCALE_SUFFIX)
        if value.dtype == torch.int8 and scale is not None:
            out[key] = value.float() * scale.float().view(-1, *([1] * (value.dim() - 1)))
        else:
            out[key] = value.float() if value.is_floating_point() else value
    return out
