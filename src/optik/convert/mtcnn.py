"""MTCNN weights from PyPI ``facenet-pytorch`` 2.6.0 (plain P/R/O-Net state dicts) into one state dict."""

from __future__ import annotations

from pathlib import Path

import torch

from optik.nets.mtcnn import ONet, PNet, RNet
from optik.registry import upstream
from optik.registry.packages import PackageFile, member

MTCNN_FILES = {
    "pnet": PackageFile(
        upstream.FACENET_PYTORCH,
        "facenet_pytorch/data/pnet.pt",
        "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
    ),
    "rnet": PackageFile(
        upstream.FACENET_PYTORCH,
        "facenet_pytorch/data/rnet.pt",
        "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
    ),
    "onet": PackageFile(
        upstream.FACENET_PYTORCH,
        "facenet_pytorch/data/onet.pt",
        "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
    ),
}
_NETS = {"pnet": PNet, "rnet": RNet, "onet": ONet}


def convert_mtcnn(root: Path) -> dict[str, torch.Tensor]:
    """``pnet.*``, ``rnet.*``, ``onet.*`` tensors from the unpacked wheel at ``root`` (checked by sha256).

    Each file is loaded with ``weights_only=True`` and must load strictly into its module.
    """
    state: dict[str, torch.Tensor] = {}
    for name, file in MTCNN_FILES.items():
        part = torch.load(member(file, root), map_location="cpu", weights_only=True)
        _NETS[name]().load_state_dict(part, strict=True)
        state.update({f"{name}.{key}": value.float().contiguous() for key, value in part.items()})
    return state
