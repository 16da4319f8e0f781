"""Convert MediaPipe Selfie and Google Meet segmentation (TF.js graphs, human-models 3.0.4) to state dicts."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from optik.convert.sources import SourceFiles
from optik.convert.tfjs import TfjsGraph, TfjsNode, read_graph_model
from optik.nets.selfie import HSWISH_SCALE, MeetSegmenter, SelfieSegmenter

# Ops carrying a kernel, in graph order; MatMul is a dense layer on a 1x1 map (Meet's SE).
_WEIGHT_OPS = ("Conv2D", "DepthwiseConv2dNative", "Conv2DBackpropInput", "MatMul")
_ADD_OPS = ("Add", "AddV2", "BiasAdd")


def _bias(graph: TfjsGraph, node: TfjsNode, consumers: dict[str, list[TfjsNode]]) -> np.ndarray:
    """The constant added right after ``node`` (folded batch norm or dense bias).

    Reshapes are looked through (dense layers), and grappler's rewrite of ``(conv + b) + skip`` as
    ``AddV2(b, AddN(conv, skip))`` gives the same bias.
    """
    users = consumers.get(node.name, [])
    while len(users) == 1 and users[0].op in ("AddN", "Reshape"):
        users = consumers.get(users[0].name, [])
    for user in users:
        consts = [name for name in user.inputs if name in graph.weights]
        if user.op in _ADD_OPS and len(consts) == 1:
            return graph.weights[consts[0]]
    raise ValueError(f"{node.name}: no bias found")


def _check_hswish_constants(graph: TfjsGraph) -> None:
    """The scalar float constants must be hard-swish's 3 and float16 1/6, as the model uses."""
    for name, value in graph.weights.items():
        if value.shape != () or value.dtype != np.float32:
            continue
        expected = {"add": 3.0, "mul": HSWISH_SCALE}.get(name[:3])
        if expected is None or float(value) != expected:
            raise ValueError(f"constant {name} = {float(value)}, expected {expected}")


def _kind(module: nn.Module) -> tuple[str, ...]:
    """The graph ops that may fill ``module``."""
    if isinstance(module, nn.ConvTranspose2d):
        return ("Conv2DBackpropInput",)
    if module.groups > 1:
        return ("DepthwiseConv2dNative",)
    return ("Conv2D", "MatMul") if module.kernel_size == (1, 1) else ("Conv2D",)


def _kernel(kernel: np.ndarray, node: TfjsNode, module: nn.Module) -> torch.Tensor:
    """TF kernel layouts → PyTorch: HWIO, depthwise HW(C,1), transposed HW(out,in), dense (in,out)."""
    if node.op == "MatMul":
        array = kernel.T[:, :, None, None]
    elif isinstance(module, nn.ConvTranspose2d):  # [kh, kw, out, in] → [in, out, kh, kw]
        array = kernel.transpose(3, 2, 0, 1)
    elif module.groups > 1:  # [kh, kw, in, 1] → [in, 1, kh, kw]
        array = kernel.transpose(2, 3, 0, 1)
    else:  # [kh, kw, in, out] → [out, in, kh, kw]
        array = kernel.transpose(3, 2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def _convert(model: nn.Module, graph: TfjsGraph, label: str) -> dict[str, torch.Tensor]:
    """Match the model's convolutions to the graph's weighted ops in order; check every shape."""
    try:
        _check_hswish_constants(graph)
        consumers: dict[str, list[TfjsNode]] = {}
        for node in graph.nodes:
            for name in node.inputs:
                consumers.setdefault(name, []).append(node)
        ops = [node for node in graph.nodes if node.op in _WEIGHT_OPS]
        modules = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        if len(modules) != len(ops):
            raise ValueError(f"the graph has {len(ops)} weighted ops, the model {len(modules)} convolutions")
        state: dict[str, torch.Tensor] = {}
        for (name, module), node in zip(modules, ops, strict=True):
            if node.op not in _kind(module):
                raise ValueError(f"{node.name} ({node.op}) does not fit {name}")
            weight = _kernel(graph.weights[node.inputs[1]], node, module)
            bias = torch.from_numpy(_bias(graph, node, consumers).astype(np.float32))
            for key, tensor, target in (("weight", weight, module.weight), ("bias", bias, module.bias)):
                if tensor.shape != target.shape:
                    raise ValueError(f"{node.name} {key} {tuple(tensor.shape)} != {name} {tuple(target.shape)}")
                state[f"{name}.{key}"] = tensor
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None
    return state


def convert_selfie(files: SourceFiles) -> dict[str, torch.Tensor]:
    """State dict of :class:`SelfieSegmenter` from ``selfie.json`` (and the ``selfie.bin`` beside it)."""
    return _convert(SelfieSegmenter(), read_graph_model(files.one("selfie.json")), "selfie")


def convert_meet(files: SourceFiles) -> dict[str, torch.Tensor]:
    """State dict of :class:`MeetSegmenter` from ``meet.json`` (and the ``meet.bin`` beside it)."""
    return _convert(MeetSegmenter(), read_graph_model(files.one("meet.json")), "meet")
