"""Reader of ncnn models (``.param`` + ``.bin``) and converters for the Real-ESRGAN ncnn files.

``.param`` is text: magic ``7767517``, ``layer_count blob_count``, then one line per layer: type,
name, input/output counts, blob names and ``k=v`` params. Keys ``-233xx`` hold arrays written as
``n,v1,…,vn``; as in ncnn they are stored here under ``xx`` (so ``-23310`` → ``10``) without the count.
``.bin`` has no header: each layer's weights follow in ``.param`` order. A Convolution weight starts
with a 4-byte flag (``0x01306B47`` = fp16 values padded to 4 bytes, ``0`` = fp32), its bias and
PReLU slopes are raw fp32 without a flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from optik.convert.sources import SourceFiles
from optik.nets.rrdbnet import RRDBNet
from optik.nets.srvgg import SRVGGNetCompact

MAGIC = 7767517
FP16_TAG = 0x01306B47
_WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle"}
ParamValue = int | float | list[int | float]


@dataclass
class NcnnLayer:
    """One layer: type, name, blob names, params by ncnn id, and its weights in ``.bin`` order."""

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, ParamValue]
    weights: list[np.ndarray] = field(default_factory=list)


@dataclass
class NcnnNet:
    layers: list[NcnnLayer]

    def of_type(self, layer_type: str) -> list[NcnnLayer]:
        return [layer for layer in self.layers if layer.type == layer_type]


def _number(token: str) -> int | float:
    return float(token) if any(c in token for c in ".eE") else int(token)


def _parse_params(tokens: list[str]) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for token in tokens:
        key, value = token.split("=", 1)
        index = int(key)
        if index <= -23300:
            count, *items = value.split(",")
            if int(count) != len(items):
                raise ValueError(f"array param {token!r} announces {count} values, has {len(items)}")
            params[-index - 23300] = [_number(item) for item in items]
        else:
            params[index] = _number(value)
    return params


def parse_param(text: str) -> list[NcnnLayer]:
    """The layers of a text ``.param`` file (weights not yet loaded)."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [str(MAGIC)]:
        raise ValueError("not an ncnn .param file (bad magic)")
    layer_count = int(lines[1][0])
    if len(lines) - 2 != layer_count:
        raise ValueError(f".param announces {layer_count} layers, has {len(lines) - 2}")
    layers = []
    for tokens in lines[2:]:
        layer_type, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        blobs = tokens[4 : 4 + n_in + n_out]
        params = _parse_params(tokens[4 + n_in + n_out :])
        layers.append(NcnnLayer(layer_type, name, blobs[:n_in], blobs[n_in:], params))
    return layers


class _BinReader:
    """Sequential reader of a ``.bin`` buffer."""

    def __init__(self, data: bytes):
        self.data, self.offset = data, 0

    def raw_fp32(self, count: int) -> np.ndarray:
        values = np.frombuffer(self.data, "<f4", count, self.offset)
        self.offset += 4 * count
        return values.astype(np.float32)

    def flagged(self, count: int) -> np.ndarray:
        tag = int.from_bytes(self.data[self.offset : self.offset + 4], "little")
        self.offset += 4
        if tag == 0:
            return self.raw_fp32(count)
        if tag != FP16_TAG:
            raise ValueError(f"unsupported ncnn weight storage tag {tag:#010x} (only fp16 and fp32 are read)")
        values = np.frombuffer(self.data, "<f2", count, self.offset).astype(np.float32)
        self.offset += (2 * count + 3) // 4 * 4
        return values


def _load_weights(layer: NcnnLayer, reader: _BinReader) -> None:
    p = layer.params
    if layer.type == "Convolution":
        if p.get(8, 0) or p.get(7, 1) != 1:
            raise ValueError(f"{layer.name}: int8 or grouped Convolution is not supported")
        out, kw = int(p[0]), int(p.get(1, 1))
        kh = int(p.get(11, kw))
        count = int(p[6])
        layer.weights.append(reader.flagged(count).reshape(out, count // (out * kh * kw), kh, kw))
        if p.get(5, 0):
            layer.weights.append(reader.raw_fp32(out))
    elif layer.type == "PReLU":
        layer.weights.append(reader.raw_fp32(int(p.get(0, 1))))
    elif layer.type not in _WEIGHTLESS:
        raise ValueError(f"{layer.name}: ncnn layer type {layer.type} is not supported by this reader")


def read_ncnn(param: Path, weights: Path) -> NcnnNet:
    """Read a ``.param``/``.bin`` pair; the ``.bin`` must be consumed exactly."""
    layers = parse_param(Path(param).read_text())
    data = Path(weights).read_bytes()
    reader = _BinReader(data)
    for layer in layers:
        _load_weights(layer, reader)
    if reader.offset != len(data):
        raise ValueError(f"{Path(weights).name}: layers use {reader.offset} of {len(data)} bytes")
    return NcnnNet(layers)


def _read_pair(files: SourceFiles) -> NcnnNet:
    """The network in the one ``.param``/``.bin`` pair of ``files``."""
    return read_ncnn(files.one(".param"), files.one(".bin"))


def _check_against(state: dict[str, torch.Tensor], factory: Callable[[], nn.Module]) -> None:
    """Raise unless ``state`` has exactly the keys and shapes of the module ``factory`` builds."""
    with torch.device("meta"):
        expected = {key: tuple(value.shape) for key, value in factory().state_dict().items()}
    actual = {key: tuple(value.shape) for key, value in state.items()}
    if actual != expected:
        diff = sorted(set(actual.items()) ^ set(expected.items()))
        raise ValueError(f"converted weights do not fit the module: {diff[:6]}")


def _conv(state: dict[str, torch.Tensor], prefix: str, layer: NcnnLayer) -> None:
    if layer.type != "Convolution" or len(layer.weights) != 2:
        raise ValueError(f"{layer.name}: expected a Convolution with bias for {prefix}")
    state[f"{prefix}.weight"] = torch.from_numpy(layer.weights[0].copy())
    state[f"{prefix}.bias"] = torch.from_numpy(layer.weights[1].copy())


def _rrdbnet_state(net: NcnnNet) -> dict[str, torch.Tensor]:
    convs = net.of_type("Convolution")
    num_block, rest = divmod(len(convs) - 6, 15)
    if rest or num_block < 1:
        raise ValueError(f"{len(convs)} convolutions do not make an RRDBNet (6 + 15 per block)")
    blocks = [f"body.{b}.rdb{r}.conv{c}" for b in range(num_block) for r in (1, 2, 3) for c in range(1, 6)]
    names = ["conv_first", *blocks, "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    leaky = {*(n for n in blocks if not n.endswith("conv5")), "conv_up1", "conv_up2", "conv_hr"}
    state: dict[str, torch.Tensor] = {}
    for name, layer in zip(names, convs, strict=True):
        fused = layer.params.get(9, 0) == 2 and layer.params.get(10) == [0.2]
        if fused != (name in leaky):
            raise ValueError(f"{layer.name} ({name}): LeakyReLU 0.2 expected {name in leaky}, found {fused}")
        _conv(state, name, layer)
    interps = [tuple(layer.params.get(k) for k in (0, 1, 2)) for layer in net.of_type("Interp")]
    if interps != [(1, 2.0, 2.0)] * 2:
        raise ValueError(f"expected two nearest x2 Interp layers, found {interps}")
    num_feat, num_grow = state["conv_first.weight"].shape[0], state["body.0.rdb1.conv1.weight"].shape[0]
    _check_against(state, lambda: RRDBNet(num_block, num_feat, num_grow, scale=4))
    return state


def _srvgg_state(net: NcnnNet) -> dict[str, torch.Tensor]:
    weighted = [layer for layer in net.layers if layer.weights]
    types = [layer.type for layer in weighted]
    num_conv = (len(weighted) - 3) // 2
    if num_conv < 0 or types != ["Convolution", "PReLU"] * (num_conv + 1) + ["Convolution"]:
        raise ValueError("layers do not alternate Convolution/PReLU as in SRVGGNetCompact")
    state: dict[str, torch.Tensor] = {}
    for index, layer in enumerate(weighted):
        if layer.type == "PReLU":
            state[f"body.{index}.weight"] = torch.from_numpy(layer.weights[0].copy())
        else:
            _conv(state, f"body.{index}", layer)
    shuffles = net.of_type("PixelShuffle")
    if len(shuffles) != 1:
        raise ValueError(f"expected one PixelShuffle, found {len(shuffles)}")
    upscale, num_feat = int(shuffles[0].params[0]), state["body.0.weight"].shape[0]
    _check_against(state, lambda: SRVGGNetCompact(num_feat, num_conv, upscale))
    return state


def convert_rrdbnet(files: SourceFiles) -> dict[str, torch.Tensor]:
    """``RealESRGAN_x4plus`` / ``_anime_6B`` → float32 state dict for ``RRDBNet`` (the block count is read off)."""
    return _rrdbnet_state(_read_pair(files))


def convert_srvgg(files: SourceFiles) -> dict[str, torch.Tensor]:
    """``realesr-animevideov3`` → float32 state dict for ``SRVGGNetCompact`` (x4)."""
    return _srvgg_state(_read_pair(files))
