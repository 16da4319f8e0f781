"""Label sets (none of the weight files carries its own), stored as text files beside this module.

``imagenet`` (1000, torchvision's order), ``coco80`` (the 80 contiguous COCO classes), ``coco91``
(torchvision's COCO ids, with ``__background__`` and ``N/A`` gaps) and ``voc`` (21, background first):
the same lists as torchvision's weights metadata (a test checks), read without importing torchvision.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

LABEL_SETS = Path(__file__).resolve().parent / "label_sets"


@cache
def label_set(name: str) -> tuple[str, ...]:
    """The labels of ``name`` in index order."""
    path = LABEL_SETS / f"{name}.txt"
    if not path.is_file():
        raise KeyError(f"unknown label set {name!r}")
    return tuple(path.read_text(encoding="utf-8").splitlines())
