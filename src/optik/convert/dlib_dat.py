"""Reader of dlib's binary serialisation of a DNN (``dlib::serialize(net)``, e.g. ``*_resnet_model_v1.dat``).

dlib writes a network recursively: the loss layer, then every wrapper's version number from the
outermost layer inwards (``add_layer`` 2, ``add_tag_layer``/``add_skip_layer`` 1, the ``add_layer``
over the input 3), then the input layer and, from the input outwards, each computational layer's
details followed by its cached state (three ``'1'``/``'0'`` flags and three empty tensors). So after
the version run the layers come in forward order, which is what :func:`read_dlib_net` returns.
Tags and skips carry no data; the architecture has to know where they are.

Primitive encodings (dlib/serialize.h, dlib/cuda/tensor.h): an integer is one byte ``size | 0x80 if
negative`` then ``size`` little-endian bytes; a float is two integers, mantissa and base-2 exponent;
a string is its length then its bytes; a bool is the character ``'1'`` or ``'0'``; a tensor is
version 2, four integer dimensions and raw little-endian float32; an alias tensor (a view into a
layer's flat ``params``) is version 1 and four dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_INPUT_LAYER = "input_rgb_image_sized"


@dataclass
class DlibLayer:
    """One computational layer: dlib's name without version (``con``, ``affine``, ``fc`` …), its
    integer settings (kernel size, stride, padding …) and its tensors."""

    kind: str
    settings: dict[str, int] = field(default_factory=dict)
    tensors: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class DlibNet:
    loss: str
    input: str
    input_mean: tuple[float, float, float]  # avg_red, avg_green, avg_blue subtracted before dividing by 256
    input_size: tuple[int, int]  # rows, columns
    layers: list[DlibLayer]  # from the input to the output


class _Stream:
    def __init__(self, data: bytes):
        self.data = memoryview(data)
        self.pos = 0

    def read_int(self) -> int:
        head = self.data[self.pos]
        size, negative = head & 0x0F, head & 0x80
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def read_float(self) -> float:
        mantissa = self.read_int()
        return math.ldexp(mantissa, self.read_int())

    def read_bool(self) -> bool:
        char = bytes(self.data[self.pos : self.pos + 1])
        if char not in (b"0", b"1"):
            raise ValueError(f"byte {self.pos}: expected a bool, found {char!r}")
        self.pos += 1
        return char == b"1"

    def read_string(self) -> str:
        length = self.read_int()
        text = bytes(self.data[self.pos : self.pos + length]).decode("ascii")
        self.pos += length
        return text

    def expect_version(self, expected: int, what: str) -> None:
        at, version = self.pos, self.read_int()
        if version != expected:
            raise ValueError(f"byte {at}: {what} version {version}, expected {expected}")

    def read_tensor(self) -> np.ndarray:
        self.expect_version(2, "tensor")
        shape = tuple(self.read_int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).reshape(shape)
        self.pos += 4 * count
        return values.astype(np.float32)

    def read_alias(self) -> tuple[int, ...]:
        self.expect_version(1, "alias_tensor")
        return tuple(self.read_int() for _ in range(4))

    def layer_state(self) -> None:
        """The cached state after a layer's details: three flags and three tensors (gradients, output)."""
        for _ in range(3):
            self.read_bool()
        for _ in range(3):
            if self.read_tensor().size:
                raise ValueError(f"byte {self.pos}: a layer was saved with cached tensors (not clean())")


def _split(params: np.ndarray, *shapes: tuple[int, ...]) -> list[np.ndarray]:
    """Cut a layer's flat ``params`` into consecutive alias views of ``shapes``."""
    flat, parts, start = params.reshape(-1), [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(flat[start : start + size].reshape(shape))
        start += size
    if start != flat.size:
        raise ValueError(f"params hold {flat.size} values, the aliases {start}")
    return parts


def _read_con(stream: _Stream, version: str) -> DlibLayer:
    params = stream.read_tensor()
    names = ("filters", "rows", "columns", "stride_y", "stride_x", "padding_y", "padding_x")
    settings = {name: stream.read_int() for name in names}
    filters, biases = stream.read_alias(), stream.read_alias()
    for _ in range(4):  # learning-rate and weight-decay multipliers
        stream.read_float()
    if version == "con_5" and not stream.read_bool():
        biases = (0, 0, 0, 0)
    weight, bias = _split(params, filters, biases)
    return DlibLayer("con", settings, {"weight": weight} | ({"bias": bias.reshape(-1)} if bias.size else {}))


def _read_affine(stream: _Stream, version: str) -> DlibLayer:
    params = stream.read_tensor()
    gamma, beta = stream.read_alias(), stream.read_alias()
    mode = stream.read_int()  # 0: per channel (CONV_MODE), 1: per value (FC_MODE)
    weight, bias = _split(params, gamma, beta)
    return DlibLayer("affine", {"mode": mode}, {"weight": weight.reshape(-1), "bias": bias.reshape(-1)})


def _read_pool(stream: _Stream, version: str) -> DlibLayer:
    names = ("rows", "columns", "stride_y", "stride_x", "padding_y", "padding_x")
    return DlibLayer(version.removesuffix("_2"), {name: stream.read_int() for name in names})


def _read_fc(stream: _Stream, version: str) -> DlibLayer:
    outputs, inputs = stream.read_int(), stream.read_int()
    params = stream.read_tensor()
    weights, biases = stream.read_alias(), stream.read_alias()
    bias_mode = stream.read_int()  # 0: FC_HAS_BIAS, 1: FC_NO_BIAS
    for _ in range(4):
        stream.read_float()
    weight, bias = _split(params, weights, biases)
    settings = {"outputs": outputs, "inputs": inputs, "has_bias": int(bias_mode == 0)}
    tensors = {"weight": weight.reshape(inputs, outputs)} | ({"bias": bias.reshape(-1)} if bias.size else {})
    return DlibLayer("fc", settings, tensors)


def _read_plain(stream: _Stream, version: str) -> DlibLayer:
    return DlibLayer(version.rstrip("_"))


_LAYER_READERS = {
    "con_4": _read_con,
    "con_5": _read_con,
    "affine_": _read_affine,
    "max_pool_2": _read_pool,
    "avg_pool_2": _read_pool,
    "fc_2": _read_fc,
    "relu_": _read_plain,
    "add_prev_": _read_plain,
}


def read_dlib_net(path: Path) -> DlibNet:
    """Read a network saved by ``dlib::serialize`` (layers: con, affine, relu, max/avg pool, add_prev,
    fc; loss: metric) into numpy arrays; every byte of the file must be accounted for."""
    data = Path(path).read_bytes()
    stream = _Stream(data)
    stream.expect_version(1, "add_loss_layer")
    loss = stream.read_string()
    if loss != "loss_metric_2":
        raise ValueError(f"unsupported loss layer {loss!r}")
    for _ in range(2):  # margin, distance threshold
        stream.read_float()
    input_at = data.find(bytes([1, len(_INPUT_LAYER)]) + _INPUT_LAYER.encode(), stream.pos)
    versions = []
    while stream.pos < input_at:
        versions.append(stream.read_int())
    if input_at < 0 or stream.pos != input_at or versions[-1:] != [3] or set(versions[:-1]) - {1, 2}:
        raise ValueError(f"expected layer versions, then the {_INPUT_LAYER} layer")
    input_name = stream.read_string()
    mean = (stream.read_float(), stream.read_float(), stream.read_float())
    size = (stream.read_int(), stream.read_int())
    layers = []
    while stream.pos < len(data):
        version = stream.read_string()
        if version not in _LAYER_READERS:
            raise ValueError(f"byte {stream.pos}: unsupported layer {version!r}")
        layers.append(_LAYER_READERS[version](stream, version))
        stream.layer_state()
        if len(layers) == 1:  # the add_layer over the input also keeps its sample expansion factor
            stream.read_int()
    if versions.count(2) + 1 != len(layers):
        raise ValueError(f"{versions.count(2) + 1} add_layer versions but {len(layers)} layers")
    return DlibNet(loss.removesuffix("_2"), input_name, mean, size, layers)
