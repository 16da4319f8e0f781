"""optik: pretrained deep-learning image models for the shell and for Python.

>>> import optik
>>> optik.classify("examples/images/coffee.png").top.label
'espresso'
"""

from __future__ import annotations

import logging
from typing import Any

logging.getLogger("optik").addHandler(logging.NullHandler())  # the library never prints; the CLI adds a handler

__version__ = "0.1.0"
__all__ = ["__version__", "classify", "detect", "enhance", "list_models", "load_model", "segment", "style"]


def __getattr__(name: str) -> Any:  # lazy: importing optik does not import torch
    if name in ("classify", "detect", "enhance", "segment", "style"):
        from optik import api

        return getattr(api, name)
    if name in ("list_models", "load_model"):
        from optik import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'optik' has no attribute {name!r}")
