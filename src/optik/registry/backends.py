"""How a loaded module runs: the inference backends behind :class:`~optik.registry.loading.LoadedModel`.

- ``torch-eager``: the module as it is (PyTorch, oneDNN convolutions; channels-last where the row says so).
- ``torch-nnpack``: the same module with its stride-1 convolutions computed by NNPACK (Winograd F(6×6, 3×3)
  and FFT tiles: 2-5× fewer operations than oneDNN's direct convolutions on wide 3×3 and 9×9 layers). A
  rewrite of the module itself, so families that call ``model.module`` or its submodules get it too.
- ``torch-frozen``: ``torch.jit.trace`` + ``freeze`` + ``optimize_for_inference`` (oneDNN fusions), one
  trace per input shape.
- ``torch-compile``: ``torch.compile`` (Inductor); tens of seconds to compile on a CPU, so never chosen there.
- ``onnxruntime``: ONNX Runtime running an ONNX export of the module (:mod:`optik.registry.onnxruntime_backend`).
- ``ncnn``: ncnn running that export written as an ncnn graph (:mod:`optik.registry.ncnn_backend`; networks of
  one image in and one out: Real-ESRGAN, ISNet).

``auto`` is the fastest measured for the model and device (:data:`MEASURED`, written from
``bench/backends.py``), ``torch`` the fastest PyTorch way; both fall back to ``torch-eager`` where nothing
was measured. A choice that does not apply (ONNX Runtime or ncnn on CUDA or in fp16, NNPACK missing from this
torch build) resolves to what does.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from optik.errors import SettingError

log = logging.getLogger("optik")

EAGER, NNPACK, FROZEN, COMPILE = "torch-eager", "torch-nnpack", "torch-frozen", "torch-compile"
ONNXRUNTIME, NCNN = "onnxruntime", "ncnn"
BACKENDS = (EAGER, NNPACK, FROZEN, COMPILE, ONNXRUNTIME, NCNN)
CHOICES = ("auto", "torch", ONNXRUNTIME, NCNN, *BACKENDS[:4])  # what load(backend=...) accepts


@dataclass(frozen=True)
class Measured:
    """The fastest backend overall (``auto``) and the fastest PyTorch one (``torch``) for one model on one device
    type, as ``bench/backends.py`` measured them; ``onnxruntime_parts``: parts of the model (:data:`CALLED_PARTS`)
    that ``auto`` runs through onnxruntime while the rest runs on ``auto``."""

    auto: str
    torch: str = EAGER
    onnxruntime_parts: tuple[str, ...] = ()


#: model → device type → the measured best (bench/backends.py at 1 thread, checked at 2; bench/README.md has
#: the figures).
#: CPU: the 2-core AMD EPYC (Zen 4, AVX-512) box. onnxruntime only where it was > 10 % faster than the best
#: PyTorch way; models whose families call ``model.module`` reach it through :data:`CALLED_PARTS`. ``torch``
#: is never frozen TorchScript: it traces again in every process (0.5-2 s), which a one-image run never earns
#: back (it won up to 2× on batches: mobilenet_v2, nanodet, selfie, ppocr-v6's detector).
MEASURED: dict[str, dict[str, Measured]] = {
    "mobilenet_v2": {"cpu": Measured(ONNXRUNTIME)},
    "efficientnet_lite0": {"cpu": Measured(ONNXRUNTIME)},
    "nanodet": {"cpu": Measured(ONNXRUNTIME)},
    "centernet": {"cpu": Measured(ONNXRUNTIME, NNPACK)},
    "selfie": {"cpu": Measured(ONNXRUNTIME)},
    "meet": {"cpu": Measured(ONNXRUNTIME)},  # 4 ms against 7 eager (15 on 2 threads, waking sleeping OpenMP threads)
    "isnet": {"cpu": Measured(NCNN, NNPACK)},  # ncnn 0.49 / 0.58× the original onnxruntime (1 / 2 threads)
    # ncnn on optik's graph: level with the original ncnn (0.99-1.01 on 1 thread), NNPACK 1.04-1.18× it
    "realesrgan-x4plus": {"cpu": Measured(NCNN, NNPACK)},
    "realesrgan-x4plus-anime": {"cpu": Measured(NCNN, NNPACK)},
    "realesr-animevideov3": {"cpu": Measured(NCNN, NNPACK)},
    "multistyle26": {"cpu": Measured(ONNXRUNTIME, NNPACK)},
    # the transformer on NNPACK (0.7× the original's int8 graph), the predictor's int8 export (0.6×; eager 4×)
    "arbitrary_style": {"cpu": Measured(NNPACK, NNPACK, onnxruntime_parts=("predictor",))},
    "mtcnn": {"cpu": Measured(ONNXRUNTIME)},
    "ppocr-v6": {"cpu": Measured(ONNXRUNTIME)},
}


#: The parts of a module that its family calls itself instead of calling the model: "" for the module's own
#: forward, else submodule names. With onnxruntime each becomes a :class:`RoutedModule`, so those calls run
#: through it too (and through their own exports). Parts left out stay eager.
CALLED_PARTS: dict[str, tuple[str, ...]] = {
    "multistyle26": ("",),
    "arbitrary_style": ("predictor", "transformer"),
    "mtcnn": ("pnet", "rnet", "onet"),
    "ppocr-v6": ("rec",),
}


def resolve(choice: str, model: str, device: torch.device, dtype: torch.dtype) -> str:
    """The concrete backend that ``choice`` means for ``model`` on ``device`` in ``dtype``."""
    if choice not in CHOICES:
        raise SettingError("backend", f"{choice} is not a backend (use {', '.join(CHOICES[:4])})")
    measured = MEASURED.get(model, {}).get(device.type, Measured(EAGER))
    wanted = {"auto": measured.auto, "torch": measured.torch}.get(choice, choice)
    if wanted in (ONNXRUNTIME, NCNN):  # each the name of its runtime's package and of optik's extra
        if device.type != "cpu" or dtype != torch.float32:
            if choice == wanted:
                raise SettingError("backend", f"{wanted} runs models in float32 on the CPU here, not on {device}")
            wanted = measured.torch
        elif not installed(wanted):
            if choice == wanted:
                raise SettingError("backend", f"{wanted} is not installed (pip install 'optik[{wanted}]')")
            log.info("%s is not installed; running %s with %s", wanted, model, measured.torch)
            wanted = measured.torch
    if wanted == NNPACK and (device.type != "cpu" or dtype != torch.float32 or not torch._nnpack_available()):
        wanted = EAGER
    return wanted


def onnxruntime_parts(choice: str, model: str, device: torch.device, dtype: torch.dtype) -> tuple[str, ...]:
    """The parts of ``model`` that ``choice`` runs through onnxruntime beside the backend :func:`resolve` gives."""
    if choice != "auto" or device.type != "cpu" or dtype != torch.float32 or not installed(ONNXRUNTIME):
        return ()
    return MEASURED.get(model, {}).get("cpu", Measured(EAGER)).onnxruntime_parts


def installed(backend: str) -> bool:
    """Whether a runtime backend's packages are here (the ``optik[onnxruntime]`` / ``optik[ncnn]`` extras): the
    runtime, and onnx for torch's exporter."""
    from importlib.util import find_spec

    return find_spec(backend) is not None and find_spec("onnx") is not None


def uses_channels_last(backend: str) -> bool:
    """Whether inputs and weights should be NHWC under ``backend`` (rows that ask for it; NNPACK and ONNX
    Runtime take NCHW)."""
    return backend in (EAGER, FROZEN, COMPILE)


class Runner(Protocol):
    """Runs the module's forward on inputs already on the device, in the dtype and layout it wants."""

    @property
    def name(self) -> str: ...

    def __call__(self, *inputs: torch.Tensor) -> Any: ...


class EagerRunner:
    """The module called as it is (also what a rewritten NNPACK module is called by)."""

    def __init__(self, module: nn.Module, name: str = EAGER):
        self.module, self.name = module, name

    def __call__(self, *inputs: torch.Tensor) -> Any:
        with torch.inference_mode():
            return self.module(*inputs)


class FrozenRunner:
    """TorchScript traced on the first input of each shape, frozen and optimised for inference (oneDNN
    convolution + activation fusion, folded batch norms). After ``max_shapes`` traces new shapes run eagerly."""

    name = FROZEN

    def __init__(self, module: nn.Module, max_shapes: int = 8):
        self.module, self.max_shapes = module, max_shapes
        self.traced: dict[tuple, Callable] = {}
        self.lock = threading.Lock()

    def __call__(self, *inputs: torch.Tensor) -> Any:
        key = tuple((tuple(value.shape), value.dtype, value.stride()) for value in inputs)
        with self.lock:
            if key not in self.traced and len(self.traced) < self.max_shapes:
                self.traced[key] = self._freeze(inputs)
        with torch.inference_mode():
            return self.traced.get(key, self.module)(*inputs)

    def _freeze(self, inputs: tuple[torch.Tensor, ...]) -> Callable:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecation and tracer warnings
            examples = tuple(value.clone() for value in inputs)
            traced = torch.jit.trace(self.module, examples, check_trace=False, strict=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))


class CompiledRunner:
    """``torch.compile`` with Inductor's defaults (shapes specialised, recompiled when they change)."""

    name = COMPILE

    def __init__(self, module: nn.Module):
        self.compiled = torch.compile(module)

    def __call__(self, *inputs: torch.Tensor) -> Any:
        with torch.inference_mode():
            return self.compiled(*inputs)


class NnpackConv2d(nn.Conv2d):
    """A ``Conv2d`` whose CPU float32 forward is NNPACK's (same weights, same result up to rounding:
    relative differences ~1e-5). While tracing or exporting it is a plain convolution.

    Images go through one at a time: NNPACK's single-image inference path is the fast one (ISNet at 1024²:
    2.5 s an image alone, 4.4 s an image in a batch of two)."""

    def forward(self, value: torch.Tensor) -> torch.Tensor:
        if value.device.type != "cpu" or value.dtype != torch.float32 or torch.jit.is_tracing():
            return super().forward(value)
        images = [
            torch._nnpack_spatial_convolution(image.contiguous(), self.weight, self.bias, self.padding, self.stride)
            for image in value.split(1)
        ]
        return images[0] if len(images) == 1 else torch.cat(images)


def nnpack_applies(conv: nn.Conv2d) -> bool:
    """NNPACK's inference path: stride 1, no dilation or groups, zero padding smaller than the kernel, a kernel
    of 2-16 pixels (a 1×1 convolution is a plain matrix product that oneDNN does as well)."""
    kernel, padding = conv.kernel_size, conv.padding
    return (
        type(conv) is nn.Conv2d
        and conv.stride == (1, 1)
        and conv.dilation == (1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
        and not isinstance(padding, str)
        and all(1 < k <= 16 and p < k for k, p in zip(kernel, padding, strict=True))
    )


def use_nnpack(module: nn.Module) -> int:
    """Turn the module's eligible convolutions into :class:`NnpackConv2d` in place; how many there were."""
    count = 0
    for conv in module.modules():
        if isinstance(conv, nn.Conv2d) and nnpack_applies(conv):
            conv.__class__ = NnpackConv2d
            conv.weight.data = conv.weight.data.contiguous()
            count += 1
    return count


class RoutedModule(nn.Module):
    """A module whose calls run through a runner (ONNX Runtime); everything else — its layers, parameters and
    attributes, tracing and exporting — is the original module's (``inner``)."""

    def __init__(self, inner: nn.Module, runner: Runner):
        super().__init__()
        self.inner = inner
        self.__dict__["runner"] = runner  # not a submodule

    def forward(self, *inputs: Any) -> Any:
        return self.inner(*inputs) if torch.jit.is_tracing() else self.runner(*inputs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["inner"], name)


class PartsRunner:
    """The runner of a model whose family calls parts of it: named after the backends that calls run on (the
    model's own first), ``+``-joined."""

    def __init__(self, call: Runner, parts: list[Runner]):
        self.call, self.parts = call, parts

    @property
    def name(self) -> str:
        return "+".join(dict.fromkeys(runner.name for runner in (self.call, *self.parts)))

    def __call__(self, *inputs: torch.Tensor) -> Any:
        return self.call(*inputs)


def prepare(
    backend: str, module: nn.Module, model: str, weights_sha256: str, onnxruntime_parts: tuple[str, ...] = ()
) -> tuple[nn.Module, Runner]:
    """The module as families will call it and the runner of calls to the model, for a resolved ``backend``.
    NNPACK rewrites ``module`` in place; onnxruntime routes the parts its family calls (:data:`CALLED_PARTS`), or
    only ``onnxruntime_parts`` under another backend."""
    if backend == NCNN:
        from optik.registry.ncnn_backend import NcnnRunner

        return module, NcnnRunner(module, model, weights_sha256, EagerRunner(module))
    if backend == NNPACK:
        log.debug("%s: %d convolutions through NNPACK", model, use_nnpack(module))
        call: Runner = EagerRunner(module, NNPACK)
    elif backend == FROZEN:
        call = FrozenRunner(module)
    elif backend == COMPILE:
        call = CompiledRunner(module)
    elif backend != ONNXRUNTIME:
        call = EagerRunner(module)
    if backend != ONNXRUNTIME and not onnxruntime_parts:
        return module, call
    from optik.registry.onnxruntime_backend import OnnxRuntimeRunner

    def onnxruntime(part: nn.Module, name: str) -> OnnxRuntimeRunner:
        return OnnxRuntimeRunner(part, ".".join(filter(None, (model, name))), weights_sha256, EagerRunner(part))

    if backend == ONNXRUNTIME:
        call = onnxruntime(module, "")
        onnxruntime_parts = CALLED_PARTS.get(model, ())
    parts = []
    for name in onnxruntime_parts:
        runner = call if not name else onnxruntime(module.get_submodule(name), name)
        parts.append(runner)
        if name:
            module.register_module(name, RoutedModule(module.get_submodule(name), runner))
        else:
            module = RoutedModule(module, runner)
    return module, PartsRunner(call, parts) if parts else call
