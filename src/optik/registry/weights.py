"""Finding and checking weight files without loading them (no torch): embedded, pulled, torchvision's
cache, OpenCV's data files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from optik.errors import ModelUnavailable
from optik.registry.packages import sha256_file
from optik.registry.spec import Builtin, Embedded, LocalFile, ModelSpec, Pulled, TorchvisionWeights


def models_dir() -> Path:
    """The embedded weights: ``$OPTIK_MODELS``, else ``optik/models`` of an installed package (the wheel
    carries them as package data), else the ``models/`` folder of the source checkout."""
    configured = os.environ.get("OPTIK_MODELS")
    if configured:
        return Path(configured)
    package = Path(__file__).resolve().parents[1]
    installed = package / "models"
    return installed if installed.is_dir() else package.parents[1] / "models"


def torch_hub_dir() -> Path:
    """torch.hub's directory, found as ``torch.hub.get_dir`` finds it (without importing torch)."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        torch_home = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch")
    return Path(os.path.expanduser(torch_home)) / "hub"


def torchvision_checkpoint(source: TorchvisionWeights) -> Path:
    """Where torchvision's cache keeps (or would keep) this checkpoint."""
    return torch_hub_dir() / "checkpoints" / source.file


def weights_path(spec: ModelSpec) -> Path:
    """The local file of ``spec``'s weights, or :class:`ModelUnavailable` naming the fetch command."""
    source = spec.weights
    if isinstance(source, Embedded):
        path = models_dir() / source.file
        hint = "it should ship in models/; reinstall optik or rebuild with `make models`"
    elif isinstance(source, Pulled):
        path = spec.cache_path()
        hint = f"fetch it with `optik models pull {spec.name}`"
    elif isinstance(source, Builtin):
        import cv2

        path = Path(cv2.data.haarcascades) / source.data_file if source.data_file else Path(cv2.__file__)
        hint = "it should ship with OpenCV; reinstall opencv-python-headless"
    elif isinstance(source, LocalFile):
        path = Path(source.path)
        hint = "its model directory lacks the weights file its manifest names"
    else:
        path = torchvision_checkpoint(source)
        hint = f"download it with `optik models pull {spec.name}` (needs internet)"
    if not path.exists():
        raise ModelUnavailable(f"model {spec.name} is not available here: {hint}")
    return path


def expected_sha256(spec: ModelSpec, path: Path) -> str | None:
    """The checksum the file must have (torchvision: the hash prefix in its file name)."""
    source = spec.weights
    if isinstance(source, Embedded | LocalFile):
        return source.sha256
    if isinstance(source, Builtin):
        return ""  # OpenCV's own file: nothing recorded to compare against
    if isinstance(source, Pulled):
        sidecar = path.with_suffix(".json")
        return json.loads(sidecar.read_text())["sha256"] if sidecar.exists() else None
    return path.stem.rsplit("-", 1)[-1]


def verify(spec: ModelSpec) -> tuple[Path, str]:
    """Return the weights file and its sha256, raising if it is missing or fails its checksum."""
    path = weights_path(spec)
    actual = sha256_file(path)
    expected = expected_sha256(spec, path)
    if expected is None or not actual.startswith(expected):
        raise ModelUnavailable(
            f"model {spec.name}: {path.name} fails its checksum (sha256 {actual[:16]}…, expected "
            f"{(expected or 'a recorded checksum')[:16]}…); re-fetch it with `optik models pull {spec.name}`"
        )
    return path, actual
