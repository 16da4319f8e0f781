"""Label sets (none of the weight files carries its own)."""

from __future__ import annotations

from functools import cache


@cache
def label_set(name: str) -> list[str]:
    """``imagenet`` (1000, torchvision order) or ``coco80`` (the 80 contiguous COCO classes)."""
    from torchvision.models import MobileNet_V2_Weights
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    if name == "imagenet":
        return list(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
    if name == "coco80":
        coco91 = FasterRCNN_ResNet50_FPN_Weights.COCO_V1.meta["categories"]
        return [label for label in coco91 if label not in ("__background__", "N/A")]
    raise KeyError(f"unknown label set {name!r}")
