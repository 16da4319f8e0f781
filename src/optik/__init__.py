"""optik: pretrained deep-learning image models for the shell and for Python.

>>> import optik
>>> optik.classify("examples/images/coffee.png").top.label
'espresso'
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

logging.getLogger("optik").addHandler(logging.NullHandler())  # the library never prints; the CLI adds a handler

# torch's OpenMP threads spin for a while after every parallel operation, on the cores that NNPACK's and
# onnxruntime's own thread pools and optik's decode workers need next (Real-ESRGAN on 2 threads: 1.8× ncnn
# spinning, 1.0-1.1× sleeping; bench/README.md, "threads and start-up"). libgomp reads this when torch loads,
# so it is set only before torch is imported, and a value of your own is kept.
if "torch" not in sys.modules:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "anomaly",
    "check",
    "classify",
    "cluster_faces",
    "compare",
    "dedupe",
    "detect",
    "embed",
    "enhance",
    "enroll",
    "faces",
    "fit_anomaly",
    "list_models",
    "load_model",
    "ocr",
    "segment",
    "similar",
    "style",
    "train",
]


def __getattr__(name: str) -> Any:  # lazy: importing optik does not import torch
    tasks = ("classify", "detect", "enhance", "ocr", "segment", "style")
    learning = ("train", "fit_anomaly", "anomaly")  # models made from your own images
    others = ("embed", "similar", "dedupe", "faces", "enroll", "cluster_faces", "compare", "check")
    if name in (*tasks, *learning, *others):
        from optik import api

        return getattr(api, name)
    if name in ("list_models", "load_model"):
        from optik import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'optik' has no attribute {name!r}")
