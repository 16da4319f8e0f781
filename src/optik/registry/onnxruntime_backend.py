"""ONNX Runtime as a backend: an ONNX export of optik's own module (the module stays the source of truth).

The export is made on the model's first call, from that call's (real) inputs, and checked against the eager
output on them; an export that fails or does not match is remembered and the model runs eagerly, with one
warning. Exports are cached under ``$OPTIK_HOME/onnx/MODEL/`` keyed by the weights' sha256, the source of the
module's code, the torch and onnxruntime versions, the opset and the input shape policy:

- ``dynamic``: the batch dimension of every batched input and the height and width of image inputs are
  symbolic, so one file serves every tile and batch size; the export is also checked on inputs that differ
  in each of those dimensions (a batch of another size, 32 pixels less or more each way).
- ``batch``: only the batch dimension is symbolic (networks that take one input size, e.g. MTCNN's R-Net).
- ``static``: every dimension as in the call (an export that bakes in its batch size): one file per shape.

The first policy whose export passes its checks is used; a model that fails with the eager module itself on
the varied inputs does not allow that policy. An integer graph (the int8 style predictor's) is checked as
written, its QuantizeLinear/DequantizeLinear pairs as float operations, the same on every CPU; onnxruntime then
runs it fused into integer kernels (the module writes it in the integer types those compute exactly on this CPU).
A module's ``export_variant`` (what else its export depends on) is part of the cache key.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import os
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils import _pytree as pytree

from optik.registry.packages import optik_home

log = logging.getLogger("optik")

OPSET = 17
RECIPE = 2  # bump when the export recipe changes: old cache entries are then ignored
RELATIVE_TOLERANCE = 1e-3  # of each output's largest magnitude; exports differ from eager by ~1e-6 of it
# (a module's ``int8_export_tolerance`` replaces it: its export is an int8 graph, whose rounding steps flip with
# float noise)


_EXPORTED: dict[str, Program] = {}  # by cache key: this process's exports, whatever $OPTIK_HOME says now


def cache_dir(model: str) -> Path:
    return optik_home() / "onnx" / model


def is_batched(value: torch.Tensor, batch: int) -> bool:
    return value.dim() >= 2 and value.shape[0] == batch


POLICIES = ("dynamic", "batch", "static")


def dynamic_axes(inputs: tuple[torch.Tensor, ...], policy: str) -> dict[str, dict[int, str]]:
    """The symbolic dimensions under ``policy``, by input name."""
    batch = inputs[0].shape[0]
    axes: dict[str, dict[int, str]] = {}
    for index, value in enumerate(inputs):
        named = {0: "batch"} if is_batched(value, batch) and policy != "static" else {}
        if value.dim() == 4 and policy == "dynamic":
            named |= {2: f"height{index}", 3: f"width{index}"}
        if named:
            axes[f"input{index}"] = named
    return axes


def varied(inputs: tuple[torch.Tensor, ...], policy: str) -> tuple[torch.Tensor, ...]:
    """The inputs with every symbolic dimension of ``policy`` changed: another batch size (the first item, or
    two), and image sides 32 pixels shorter (longer where they are under 64), replicated at the edge."""
    batch = inputs[0].shape[0]
    out = []
    for value in inputs:
        if is_batched(value, batch):
            value = value[:1] if batch > 1 else torch.cat([value, value.flip(-1)])
        if value.dim() == 4 and policy == "dynamic":
            height, width = value.shape[2:]
            if height >= 64 and width >= 64:
                value = value[:, :, 16 : height - 16, 16 : width - 16]
            else:
                value = torch.nn.functional.pad(value, (16, 16, 16, 16), mode="replicate")
        out.append(value.contiguous())
    return tuple(out)


def code_digest(module: nn.Module) -> str:
    """sha256 of the source of the Python modules that define ``module``'s layers (torch's aside): editing a
    network's code makes its cached exports stale."""
    digest = hashlib.sha256()
    for name in sorted({type(layer).__module__ for layer in module.modules()}):
        if name.partition(".")[0] != "torch":
            try:
                digest.update(inspect.getsource(sys.modules[name]).encode())
            except (OSError, TypeError):  # no source file (defined interactively): its name only
                digest.update(name.encode())
    return digest.hexdigest()


def cache_key(model: str, weights_sha256: str, inputs: tuple[torch.Tensor, ...], policy: str, code: str = "") -> str:
    """What an export depends on, hashed: the weights, the code (:func:`code_digest`), the versions, the
    recipe, the inputs' kind."""
    import onnxruntime

    axes = dynamic_axes(inputs, policy)
    symbolic = [axes.get(f"input{index}", {}) for index in range(len(inputs))]
    shapes = [
        [None if axis in named else size for axis, size in enumerate(v.shape)]
        for v, named in zip(inputs, symbolic, strict=True)
    ]
    facts = {
        "model": model,
        "weights_sha256": weights_sha256,
        "code": code,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "opset": OPSET,
        "recipe": RECIPE,
        "policy": policy,
        "inputs": [[str(v.dtype), shape] for v, shape in zip(inputs, shapes, strict=True)],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:24]


def largest_difference(ours: list[np.ndarray], reference: list[np.ndarray]) -> float:
    """The largest difference relative to each output's magnitude (at least 0.1, so that near-zero outputs are
    not held to rounding noise); inf if shapes or counts differ or anything is not finite."""
    if len(ours) != len(reference) or any(a.shape != b.shape for a, b in zip(ours, reference, strict=True)):
        return float("inf")
    worst = 0.0
    for a, b in zip(ours, reference, strict=True):
        if b.size:
            scale = max(float(np.abs(b).max()), 0.1)
            difference = float(np.abs(a.astype(np.float64) - b).max()) / scale
            worst = max(worst, difference if np.isfinite(difference) else float("inf"))
    return worst


@dataclass
class Program:
    """One exported ONNX file with what running it needs; sessions per thread count."""

    path: Path
    treespec: pytree.TreeSpec  # the structure of the module's output
    sessions: dict[tuple[int, bool], Any] = field(default_factory=dict)

    def run(self, inputs: tuple[torch.Tensor, ...], optimised: bool = True) -> Any:
        """The graph's outputs; ``optimised=False`` runs it as written, without onnxruntime's fusions."""
        session = self.session(torch.get_num_threads(), optimised)
        feed = {f"input{index}": value.detach().contiguous().numpy() for index, value in enumerate(inputs)}
        outputs = session.run(None, feed)
        return pytree.tree_unflatten([torch.from_numpy(array) for array in outputs], self.treespec)

    def session(self, threads: int, optimised: bool = True) -> Any:
        if (threads, optimised) not in self.sessions:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            if not optimised:
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # decode and post-processing threads share the cores: waiting threads must not spin
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session = onnxruntime.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
            self.sessions[threads, optimised] = session
        return self.sessions[threads, optimised]

    @classmethod
    def load(cls, path: Path) -> Program | None:
        meta = path.with_suffix(".json")
        if not (path.exists() and meta.exists()):
            return None
        return cls(path, pytree.treespec_loads(json.loads(meta.read_text())["treespec"]))


class ExportMismatch(Exception):
    """The exported graph does not compute what the module computes."""


def export(module: nn.Module, inputs: tuple[torch.Tensor, ...], directory: Path, policy: str) -> Path:
    """``module``'s ONNX export for ``inputs``, written to a new file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=".onnx.partial", dir=directory)
    os.close(handle)
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings
            torch.onnx.export(
                module,
                tuple(value.clone() for value in inputs),
                name,
                dynamo=False,  # the TorchScript exporter: no onnxscript needed
                opset_version=OPSET,
                input_names=[f"input{index}" for index in range(len(inputs))],
                dynamic_axes=dynamic_axes(inputs, policy),
                do_constant_folding=True,
            )
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _flat_numpy(output: Any) -> tuple[list[np.ndarray], pytree.TreeSpec]:
    leaves, treespec = pytree.tree_flatten(output)
    return [leaf.detach().float().cpu().numpy() for leaf in leaves], treespec


class OnnxRuntimeRunner:
    """Runs the module through ONNX Runtime, exporting it on first use; eager where that fails."""

    def __init__(self, module: nn.Module, model: str, weights_sha256: str, eager: Any):
        self.module, self.model, self.weights_sha256, self.eager = module, model, weights_sha256, eager
        self.code = code_digest(module) + getattr(module, "export_variant", "")
        self.programs: dict[tuple, Program | None] = {}  # by input signature; None: runs eagerly
        self.lock = threading.Lock()
        self.fell_back = False

    @property
    def name(self) -> str:
        return self.eager.name if self.fell_back else "onnxruntime"

    def __call__(self, *inputs: torch.Tensor) -> Any:
        signature = tuple((tuple(value.shape), value.dtype) for value in inputs)
        with self.lock:
            if signature not in self.programs:
                self.programs[signature] = self._program(inputs)
        program = self.programs[signature]
        if program is None:
            return self.eager(*inputs)
        try:
            return program.run(inputs)
        except Exception as exc:  # onnxruntime refusing inputs the export check did not cover
            self.programs[signature] = self._give_up(f"{exc.__class__.__name__}: {exc}")
            return self.eager(*inputs)

    def _program(self, inputs: tuple[torch.Tensor, ...]) -> Program | None:
        """The cached or newly exported program for inputs like these (the most dynamic shape policy the model
        allows), or None: the model runs eagerly."""
        reference: tuple[list[np.ndarray], pytree.TreeSpec] | None = None
        reason = ""
        for policy in POLICIES:
            key = cache_key(self.model, self.weights_sha256, inputs, policy, self.code)
            path = cache_dir(self.model) / f"{key}.onnx"
            failed = path.with_suffix(".failed")
            program = _EXPORTED.get(key) or Program.load(path)
            if program is not None and program.path.exists():
                _EXPORTED[key] = program
                return program
            if failed.exists():
                reason = failed.read_text()
            else:
                if reference is None:
                    reference = _flat_numpy(self.eager(*inputs))
                try:
                    return self._export(inputs, path, policy, reference)
                except Exception as exc:  # an exporter that cannot, or a graph that computes something else
                    reason = f"{'mismatch' if isinstance(exc, ExportMismatch) else 'error'}: {exc}"[:500]
                with contextlib.suppress(OSError):  # remembered where the cache is writable
                    failed.write_text(reason)
            if not reason.startswith("mismatch"):
                break  # only a mismatch on other shapes is worth a less dynamic export
        return self._give_up(reason.splitlines()[0])

    def _give_up(self, reason: str) -> None:
        if not self.fell_back:
            log.warning("%s: the onnxruntime export cannot be used (%s); running it with PyTorch", self.model, reason)
        self.fell_back = True
        return None

    def _export(
        self, inputs: tuple[torch.Tensor, ...], path: Path, policy: str, reference: tuple[list, pytree.TreeSpec]
    ) -> Program:
        log.info(
            "%s: exporting to ONNX for onnxruntime (%s shapes, once; cached in %s)", self.model, policy, path.parent
        )
        program = Program(export(self.module, inputs, path.parent, policy), reference[1])
        checks = [(inputs, reference[0])]
        if policy != "static":
            other = varied(inputs, policy)
            try:
                checks.append((other, _flat_numpy(self.eager(*other))[0]))
            except Exception as exc:  # the module itself takes no such inputs
                program.path.unlink(missing_ok=True)
                raise ExportMismatch(f"the module takes no inputs of {[tuple(v.shape) for v in other]}") from exc
        worst = 0.0
        try:
            # an int8 graph is checked as written, its QDQ pairs as float operations alike on every CPU (fused, its
            # integer kernels differ from them by float noise that flips a rounding), to the module's own tolerance
            int8_tolerance = getattr(self.module, "int8_export_tolerance", None)
            tolerance = RELATIVE_TOLERANCE if int8_tolerance is None else int8_tolerance
            for number, (checked, expected) in enumerate(checks):
                shapes = [tuple(value.shape) for value in checked]
                try:
                    outputs = _flat_numpy(program.run(checked, optimised=int8_tolerance is None))[0]
                except Exception as exc:  # on other shapes: the export baked in these ones
                    if number == 0:
                        raise
                    raise ExportMismatch(f"fails at {shapes} ({exc.__class__.__name__})") from exc
                worst = max(worst, largest_difference(outputs, expected))
                if not worst <= tolerance:
                    raise ExportMismatch(f"differs from PyTorch by {worst:.2g} of the output's range at {shapes}")
            meta = {"treespec": pytree.treespec_dumps(reference[1]), "policy": policy, "largest_difference": worst}
            path.with_suffix(".json").write_text(json.dumps(meta))
            program.path.chmod(0o644)  # mkstemp's 0600: the cache may be shared
            os.replace(program.path, path)
        except BaseException:
            program.path.unlink(missing_ok=True)
            raise
        program.path = path
        return program
