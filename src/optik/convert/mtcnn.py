"""MTCNN weights from PyPI ``facenet-pytorch`` 2.6.0 (plain P/R/O-Net state dicts) into one state dict."""

from __future__ import annotations

import torch

from optik.convert.sources import SourceFiles
from optik.nets.mtcnn import ONet, PNet, RNet

_NETS = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def convert_mtcnn(files: SourceFiles) -> dict[str, torch.Tensor]:
    """``pnet.*``, ``rnet.*``, ``onet.*`` tensors from ``pnet.pt``, ``rnet.pt`` and ``onet.pt``.

    Each file is loaded with ``weights_only=True`` and must load strictly into its module.
    """
    state: dict[str, torch.Tensor] = {}
    for name, net in _NETS.items():
        part = torch.load(files.one(f"{name}.pt"), map_location="cpu", weights_only=True)
        net().load_state_dict(part, strict=True)
        state.update({f"{name}.{key}": value.float().contiguous() for key, value in part.items()})
    return state
