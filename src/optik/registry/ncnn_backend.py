"""ncnn as a backend: optik's own module, exported to ONNX and written as an ncnn graph (the module stays the
source of truth). ncnn is the runtime Real-ESRGAN ships with (realesrgan-ncnn-vulkan); on a CPU its Winograd
convolutions with fused activations beat NNPACK's on Real-ESRGAN and on ISNet's U-Net (and onnxruntime's).

The graph is made on the model's first call (the export of :mod:`optik.registry.onnxruntime_backend`, then
:func:`ncnn_graph`), checked against the eager output on that call's inputs and on inputs of another size, and
cached under ``$OPTIK_HOME/ncnn/MODEL/`` keyed by the weights' sha256, the module's code and the versions. A
graph that cannot be written (an operation ncnn is not given here) or does not match is remembered and the
model runs eagerly, with one warning. ncnn takes one image at a time, of any size: batches run image by image.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from optik.registry.onnxruntime_backend import (
    RELATIVE_TOLERANCE,
    ExportMismatch,
    code_digest,
    export,
    largest_difference,
    varied,
)
from optik.registry.packages import optik_home

log = logging.getLogger("optik")

RECIPE = 2  # bump when the graph writer changes: old cache entries are then ignored
MAGIC = 7767517  # the first line of an ncnn .param file


class Unsupported(Exception):
    """The ONNX graph has something this writer does not translate."""


def _attributes(node: Any) -> dict[str, Any]:
    import onnx

    return {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}


def _relu_slope(node: Any) -> float:
    """The negative slope of an ONNX Relu (0) or LeakyRelu."""
    return _attributes(node).get("alpha", 0.01) if node.op_type == "LeakyRelu" else 0.0


def ncnn_graph(model: Any) -> tuple[str, bytes]:
    """An ONNX model of one image input and one output (convolutions, ReLU / leaky ReLU / PReLU / sigmoid,
    concatenation, sums, arithmetic with a constant, max pooling, nearest resizing by constant scales, bilinear
    resizing to another blob's size, depth-to-space) as ncnn's ``.param`` text and ``.bin`` weights. A (leaky)
    ReLU after a convolution is fused into it, ``a + b * c`` (c a constant) becomes one ``Eltwise`` sum with
    coefficients, the shape arithmetic that sizes a resize is dropped (ncnn's ``Interp`` reads the size from the
    blob itself), blobs read more than once go through a ``Split``, as ncnn's converters do."""
    from onnx import numpy_helper

    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1:
        raise Unsupported("ncnn is given networks of one input and one output here")
    constants = {tensor.name: numpy_helper.to_array(tensor) for tensor in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = numpy_helper.to_array(_attributes(node)["value"])
    nodes = [node for node in graph.node if node.op_type != "Constant"]
    producer = {output: node for node in nodes for output in node.output}
    readers: dict[str, list[Any]] = {}
    for node in nodes:
        for name in node.input:
            if name in producer or name == graph.input[0].name:
                readers.setdefault(name, []).append(node)

    def only_reader(blob: str) -> Any:
        return readers[blob][0] if len(readers.get(blob, [])) == 1 else None

    layers: list[tuple[str, list[str], list[str], str]] = []  # type, inputs, outputs, parameters
    weights = bytearray()
    fused: set[int] = set()  # nodes folded into an earlier layer
    renamed: dict[str, str] = {}  # a fused node's output → the blob that carries it

    def scalar(name: str) -> float | None:
        """The value of a one-element constant; None for anything else."""
        value = constants.get(name)
        return float(value.reshape(())) if value is not None and value.size == 1 else None

    reference = {id(node): _size_reference(node, producer) for node in nodes if node.op_type == "Resize"}
    fused |= {id(node) for node in nodes if _computes_a_shape(node, readers)}

    weighted: dict[int, tuple[int, float, str]] = {}  # a sum's node → (its scaled term, the scale, what is scaled)
    for node in nodes:
        if node.op_type == "Add" and not any(name in constants for name in node.input):
            for index, name in enumerate(node.input):
                term = producer.get(name)
                coefficient = scalar(term.input[1]) if term is not None and term.op_type == "Mul" else None
                if coefficient is not None and only_reader(name) is node:
                    weighted[id(node)] = (index, coefficient, term.input[0])
                    fused.add(id(term))
                    break

    layers.append(("Input", [], [graph.input[0].name], ""))
    for node in nodes:
        if id(node) in fused:
            continue
        attributes = _attributes(node)
        inputs = [renamed.get(name, name) for name in node.input if name]
        output = node.output[0]
        kind = node.op_type
        if kind == "Conv":
            weight = constants[node.input[1]].astype(np.float32)
            bias = constants[node.input[2]].astype(np.float32) if len(node.input) > 2 else None
            top, left, bottom, right = attributes.get("pads", [0, 0, 0, 0])
            dilation_h, dilation_w = attributes.get("dilations", [1, 1])
            stride_h, stride_w = attributes.get("strides", [1, 1])
            if attributes.get("group", 1) != 1 or attributes.get("auto_pad", b"NOTSET") != b"NOTSET":
                raise Unsupported("grouped or auto-padded convolutions")
            out_channels, _, kernel_h, kernel_w = weight.shape
            parameters = (
                f"0={out_channels} 1={kernel_w} 11={kernel_h} 2={dilation_w} 12={dilation_h} 3={stride_w} "
                f"13={stride_h} 4={left} 14={top} 15={right} 16={bottom} 5={int(bias is not None)} 6={weight.size}"
            )
            activation = only_reader(output)
            if activation is not None and activation.op_type in ("Relu", "LeakyRelu"):
                slope = _relu_slope(activation)
                parameters += " 9=1" if slope == 0.0 else f" 9=2 -23310=1,{slope:e}"
                fused.add(id(activation))
                renamed[activation.output[0]] = output
            weights += _tagged(weight)
            if bias is not None:
                weights += bias.tobytes()
            layers.append(("Convolution", inputs[:1], [output], parameters))
        elif kind in ("Relu", "LeakyRelu"):
            layers.append(("ReLU", inputs, [output], f"0={_relu_slope(node):e}"))
        elif kind == "PRelu":
            slope = constants[node.input[1]].astype(np.float32).ravel()
            weights += slope.tobytes()
            layers.append(("PReLU", inputs[:1], [output], f"0={slope.size}"))
        elif kind == "Concat":
            if attributes.get("axis") != 1:
                raise Unsupported("concatenation on another axis than channels")
            layers.append(("Concat", inputs, [output], "0=0"))
        elif kind in SCALAR_OPERATIONS and scalar(node.input[1]) is not None:
            operation = SCALAR_OPERATIONS[kind]
            layers.append(("BinaryOp", inputs[:1], [output], f"0={operation} 1=1 2={scalar(node.input[1]):e}"))
        elif kind == "Add" and id(node) in weighted:
            index, coefficient, source = weighted[id(node)]
            inputs[index] = renamed.get(source, source)
            coefficients = [1.0, 1.0]
            coefficients[index] = coefficient
            layers.append(("Eltwise", inputs, [output], f"0=1 -23301=2,{coefficients[0]:e},{coefficients[1]:e}"))
        elif kind == "Add" and all(name not in constants for name in node.input):
            layers.append(("BinaryOp", inputs, [output], "0=0"))
        elif kind == "Resize" and reference[id(node)] is not None:
            if attributes.get("mode") != b"linear" or attributes.get("coordinate_transformation_mode") not in (
                b"half_pixel",
                b"pytorch_half_pixel",
            ):
                raise Unsupported("resizing to another blob's size other than bilinear without aligned corners")
            like = reference[id(node)]
            layers.append(("Interp", [inputs[0], renamed.get(like, like)], [output], "0=2 5=1 6=0"))
        elif kind == "Resize":
            scales = constants.get(node.input[2]) if len(node.input) > 2 else None
            if (
                attributes.get("mode") != b"nearest"
                or scales is None
                or scales.size != 4
                or tuple(scales[:2]) != (1, 1)
                or attributes.get("coordinate_transformation_mode") != b"asymmetric"
            ):
                raise Unsupported("resizing other than nearest by constant scales")
            layers.append(("Interp", inputs[:1], [output], f"0=1 1={scales[2]:e} 2={scales[3]:e}"))
        elif kind == "MaxPool":
            (kernel_h, kernel_w), (stride_h, stride_w) = attributes["kernel_shape"], attributes.get("strides", [1, 1])
            pad = attributes.get("pads", [0])[0]
            if attributes.get("dilations", [1, 1]) != [1, 1] or len(set(attributes.get("pads", [0]))) != 1:
                raise Unsupported("dilated or unevenly padded max pooling")
            ceil = attributes.get("ceil_mode", 0)
            if ceil and (pad or (kernel_h, kernel_w) != (stride_h, stride_w)):
                raise Unsupported("max pooling in ceil mode with padding or overlapping windows")
            # ceil mode over windows that tile the input is padding at the end ("same upper", 2) on any size;
            # ncnn's own ceil mode ("full padding", 0) makes two pixels of one
            parameters = f"0=0 1={kernel_w} 11={kernel_h} 2={stride_w} 12={stride_h} 3={pad} 5={2 if ceil else 1}"
            layers.append(("Pooling", inputs, [output], parameters))
        elif kind == "Sigmoid":
            layers.append(("Sigmoid", inputs, [output], ""))
        elif kind == "DepthToSpace" and attributes.get("mode") == b"CRD":
            layers.append(("PixelShuffle", inputs, [output], f"0={attributes['blocksize']}"))
        else:
            raise Unsupported(f"no ncnn layer is written for ONNX {kind}")
    output = graph.output[0].name
    return _with_splits(layers, renamed.get(output, output)), bytes(weights)


FLOAT16_TAG = 0x01306B47  # in a .bin, before weights stored as float16 (ncnn widens them when it loads)


def _tagged(weight: np.ndarray) -> bytes:
    """Convolution weights as ncnn reads them: a 4-byte tag, then float16 where that is exact (weights stored in
    float16: half the file) or float32 (tag 0)."""
    half = weight.astype(np.float16)
    if np.array_equal(half.astype(np.float32), weight):
        data = half.tobytes()
        return struct.pack("<I", FLOAT16_TAG) + data + bytes(-len(data) % 4)  # padded to 4 bytes
    return struct.pack("<I", 0) + weight.tobytes()


#: ONNX operations on a blob and a constant → ncnn BinaryOp's operation
SCALAR_OPERATIONS = {"Add": 0, "Sub": 1, "Mul": 2, "Div": 3}
SHAPE_OPERATIONS = {"Shape", "Gather", "Unsqueeze", "Slice", "Cast", "Concat"}


def _size_reference(resize: Any, producer: dict[str, Any]) -> str | None:
    """The blob whose height and width a ``Resize`` takes (``F.interpolate(x, size=like.shape[2:])``): the one
    blob other than the resized one that its ``sizes`` are computed from by shape operations; None for a resize by
    constant scales."""
    if len(resize.input) < 4 or not resize.input[3]:
        return None
    measured: set[str] = set()
    pending = [resize.input[3]]
    while pending:
        node = producer.get(pending.pop())
        if node is None:
            continue
        if node.op_type == "Shape":
            measured.add(node.input[0])
        elif node.op_type in SHAPE_OPERATIONS:
            pending += node.input
        else:
            raise Unsupported(f"a resize to sizes computed with ONNX {node.op_type}")
    others = measured - {resize.input[0]}
    if len(others) != 1:
        raise Unsupported("a resize to sizes not taken from one other blob")
    return others.pop()


def _computes_a_shape(node: Any, readers: dict[str, list[Any]]) -> bool:
    """Whether ``node`` only computes sizes for a ``Resize`` (its outputs read by such nodes and as a resize's
    ``sizes``): ncnn's Interp takes the size from the reference blob itself."""
    if node.op_type not in SHAPE_OPERATIONS:
        return False
    consumers = [reader for output in node.output for reader in readers.get(output, [])]
    return bool(consumers) and all(
        (reader.op_type == "Resize" and set(reader.input[:3]).isdisjoint(node.output))
        or _computes_a_shape(reader, readers)
        for reader in consumers
    )


def _with_splits(layers: list[tuple[str, list[str], list[str], str]], output: str) -> str:
    """The ``.param`` text: every blob read by several layers split first (ncnn moves a blob to its one reader);
    the graph's output blob named ``output``, its input ``data``."""
    rename = {layers[0][2][0]: "data", output: "output"}
    reads: dict[str, int] = {}
    for _, inputs, _, _ in layers:
        for name in inputs:
            reads[name] = reads.get(name, 0) + 1
    lines: list[str] = []
    blobs = 0
    handed: dict[str, int] = {}  # split blob → copies handed out so far
    for index, (kind, inputs, outputs, parameters) in enumerate(layers):
        names = []
        for name in inputs:
            if reads[name] > 1:
                names.append(f"{rename.get(name, name)}_split_{handed[name]}")
                handed[name] += 1
            else:
                names.append(rename.get(name, name))
        outs = [rename.get(name, name) for name in outputs]
        lines.append(f"{kind} layer{index} {len(names)} {len(outs)} {' '.join(names + outs)} {parameters}".strip())
        blobs += len(outs)
        for name, out in zip(outputs, outs, strict=True):
            if reads.get(name, 0) > 1:
                copies = [f"{out}_split_{copy}" for copy in range(reads[name])]
                lines.append(f"Split split{index}_{name} 1 {len(copies)} {out} {' '.join(copies)}")
                blobs += len(copies)
                handed[name] = 0
    return f"{MAGIC}\n{len(lines)} {blobs}\n" + "\n".join(lines) + "\n"


def cache_key(model: str, weights_sha256: str, code: str) -> str:
    """What a graph depends on, hashed: the weights, the module's code, the versions, the recipe."""
    import ncnn

    facts = {
        "model": model,
        "weights_sha256": weights_sha256,
        "code": code,
        "torch": torch.__version__,
        "ncnn": ncnn.__version__,
        "recipe": RECIPE,
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:24]


class NcnnRunner:
    """Runs a one-image-in, one-image-out module through ncnn, writing its graph on first use; eager where
    that fails."""

    def __init__(self, module: nn.Module, model: str, weights_sha256: str, eager: Any):
        self.module, self.model, self.eager = module, model, eager
        self.path = optik_home() / "ncnn" / model / cache_key(model, weights_sha256, code_digest(module))
        self.nets: dict[int, Graph | None] = {}  # by thread count: ncnn plans its convolutions for that count
        self.lock = threading.Lock()
        self.fell_back = False

    @property
    def name(self) -> str:
        return self.eager.name if self.fell_back else "ncnn"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        threads = torch.get_num_threads()
        with self.lock:
            if threads not in self.nets and not self.fell_back:
                self.nets[threads] = self._net(images, threads)
        net = self.nets.get(threads)
        if net is None:
            return self.eager(images)
        return torch.from_numpy(net(images))

    def _net(self, images: torch.Tensor, threads: int) -> Graph | None:
        """The cached or newly written graph, loaded; None (the model runs eagerly) if it cannot be used."""
        failed = self.path.with_suffix(".failed")
        if failed.exists():
            return self._give_up(failed.read_text())
        try:
            if not self.path.with_suffix(".bin").exists():
                return self._write(images, threads)
            return Graph(self.path, threads)
        except Exception as exc:  # an operation not translated, or a graph that computes something else
            reason = f"{'mismatch' if isinstance(exc, ExportMismatch) else 'error'}: {exc}"[:500]
            with contextlib.suppress(OSError):  # remembered where the cache is writable
                failed.write_text(reason)
            return self._give_up(reason)

    def _write(self, images: torch.Tensor, threads: int) -> Graph:
        """Export and translate; check on a corner of the first image and on one of another size (the graph
        takes any size, so a 64-pixel corner checks it as well as a whole tile at a fraction of the eager time);
        publish (temp + rename). The checked network, loaded for ``threads``."""
        import onnx

        log.info("%s: writing an ncnn graph (once; cached in %s)", self.model, self.path.parent)
        corner = images[:1, :, :64, :64].contiguous()
        exported = export(self.module, (corner,), self.path.parent, "dynamic")
        try:
            param, weights = ncnn_graph(onnx.load(str(exported)))
        finally:
            exported.unlink(missing_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".writing-", dir=self.path.parent)) / self.path.name
        try:
            staged.with_suffix(".param").write_text(param)
            staged.with_suffix(".bin").write_bytes(weights)
            net = Graph(staged, threads)
            for sample in (corner, varied((corner,), "dynamic")[0]):
                worst = largest_difference([net(sample)], [self.eager(sample).float().numpy()])
                if not worst <= RELATIVE_TOLERANCE:
                    raise ExportMismatch(f"differs from PyTorch by {worst:.2g} of the output's range")
            for suffix in (".param", ".bin"):  # the .bin last: its presence marks a finished graph
                staged.with_suffix(suffix).chmod(0o644)
                os.replace(staged.with_suffix(suffix), self.path.with_suffix(suffix))
        finally:
            shutil.rmtree(staged.parent, ignore_errors=True)
        return net

    def _give_up(self, reason: str) -> None:
        if not self.fell_back:
            log.warning("%s: the ncnn graph cannot be used (%s); running it with PyTorch", self.model, reason)
        self.fell_back = True
        return None


class Graph:
    """An ncnn network loaded for a thread count, with the memory pools its runs draw from: a call reuses the
    last call's blobs and scratch instead of taking fresh pages (2-3 % on Real-ESRGAN tiles and ISNet)."""

    def __init__(self, path: Path, threads: int):
        import ncnn

        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        if self.net.load_param(str(path.with_suffix(".param"))) or self.net.load_model(str(path.with_suffix(".bin"))):
            raise RuntimeError(f"ncnn could not load {path}")
        # set after loading, so the weights are not in them; runs take from and give back to them (thread-safe)
        self.pools = ncnn.PoolAllocator(), ncnn.PoolAllocator()
        self.net.opt.blob_allocator, self.net.opt.workspace_allocator = self.pools

    def __call__(self, images: torch.Tensor) -> np.ndarray:
        """An N×C×H×W batch through the network, image by image."""
        import ncnn

        outputs = []
        for image in images.detach().float().contiguous().numpy():
            extractor = self.net.create_extractor()
            # ncnn.Mat(array) wraps the array's memory: the copy is ncnn's own, aligned for its vector loads (an
            # in-place first layer crashes on numpy's alignment) and free for in-place layers to overwrite
            extractor.input("data", ncnn.Mat(image).clone())
            status, output = extractor.extract("output")
            if status != 0:
                raise RuntimeError(f"ncnn could not run the graph (status {status})")
            outputs.append(np.array(output))
            del extractor, output  # their blobs back to the pools now
        return np.stack(outputs)
