"""The shared OpenCV preprocessing layer: decode/encode, colour and depth, resize modes, tiling."""

from optik.preprocess.decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, Image, decode, encode
from optik.preprocess.geometry import Affine, letterbox, map_boxes, unmap_mask
from optik.preprocess.transforms import InputSpec, prepare, to_batch

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "Affine",
    "Image",
    "InputSpec",
    "decode",
    "encode",
    "letterbox",
    "map_boxes",
    "prepare",
    "to_batch",
    "unmap_mask",
]
