"""Rebuild ``models/`` (weights and model cards) from the upstream packages.

python -m optik.convert.build            # convert every embedded model into models/
python -m optik.convert.build --check    # convert into a temp dir and compare checksums
python -m optik.convert.build mobilenet_v2
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

from optik.convert.sources import SourceFiles, checked_files
from optik.errors import ModelUnavailable
from optik.registry import list_models, source_kind
from optik.registry.loading import load_weights
from optik.registry.packages import fetch, sha256_file
from optik.registry.spec import Embedded, ModelSpec, Pulled, resolve
from optik.registry.weights import models_dir


def source_files(spec: ModelSpec, root: Path) -> SourceFiles:
    """The row's source files in the package unpacked at ``root``, each checked against its sha256."""
    source = spec.weights
    assert isinstance(source, Embedded | Pulled)
    return checked_files(source.package, source.source_files, root)


def convert_weights(spec: ModelSpec, root: Path, storage: str = "float32") -> dict[str, torch.Tensor]:
    """Run ``spec``'s converter on an unpacked package and prove the result fits the architecture.

    ``storage="float16"`` stores weight matrices and kernels (≥ 2-D) in fp16 and keeps the small
    1-D tensors (biases, norm statistics, PReLU slopes) in fp32. A row with a single file assembles it
    from the package first, then converts it as :func:`convert_file` does.
    """
    source = spec.weights
    converted = resolve(source.converter)(source_files(spec, root))
    if isinstance(source, Pulled) and source.single_file is not None:
        return convert_file(spec, converted, storage)
    return _fitted(spec, converted, storage)


def convert_file(spec: ModelSpec, model: bytes, storage: str = "float32") -> dict[str, torch.Tensor]:
    """As :func:`convert_weights`, from the pulled model's :class:`~optik.registry.spec.SingleFile` (its
    bytes, checked against its sha256) instead of the unpacked package."""
    single = spec.weights.single_file
    actual = hashlib.sha256(model).hexdigest()
    if actual != single.sha256:
        raise ModelUnavailable(f"this is not {single.name}: sha256 {actual[:16]}…, expected {single.sha256[:16]}…")
    return _fitted(spec, resolve(single.converter)(model), storage)


def _fitted(spec: ModelSpec, state: dict[str, torch.Tensor], storage: str) -> dict[str, torch.Tensor]:
    """``state`` proven to fit the architecture, sorted, cast to ``storage``.

    ``storage="int8"``: kernels and matrices as int8 with a float32 scale per output channel
    (:mod:`optik.convert.quantize`), except those the converter's module lists in ``STORED_FLOAT16``.
    """
    load_weights(spec.build(), state, spec.name)
    if storage == "int8":
        from optik.convert.quantize import quantize_per_channel

        converter_module = importlib.import_module(spec.weights.converter.partition(":")[0])
        float16 = getattr(converter_module, "STORED_FLOAT16", ())
        state = quantize_per_channel(state, float16)
        return {key: value.contiguous() for key, value in sorted(state.items())}
    half = storage == "float16"
    return {
        key: (value.half() if half and value.is_floating_point() and value.dim() >= 2 else value).contiguous()
        for key, value in sorted(state.items())
    }


def save_weights(tensors: dict[str, torch.Tensor], path: Path, spec: ModelSpec) -> str:
    """Write safetensors atomically with provenance metadata; return its sha256."""
    from safetensors.torch import save_file

    source = spec.weights
    provenance = {
        "name": spec.name,
        "package": source.package.spec,
        "package_sha256": source.package.sha256,
        "source_files": ";".join(f"{p}={h}" for p, h in source.source_files),
        "licence": spec.licence,
    }
    metadata = {"optik": json.dumps(provenance, sort_keys=True)}  # one key: safetensors reorders keys
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return sha256_file(path)


def model_card(spec: ModelSpec, sha256: str) -> str:
    """The markdown card for an embedded model, from its registry row."""
    source = spec.weights
    assert isinstance(source, Embedded)
    lines = [
        f"# {spec.name}",
        "",
        spec.summary + ".",
        "",
        f"- task: {spec.task}",
        f"- architecture: `{spec.architecture}`",
        f"- source package: {source.package.registry} `{source.package.spec}` "
        f"(archive sha256 `{source.package.sha256}`, licence {source.package.licence})",
        *(f"- source file: `{path}` (sha256 `{digest}`)" for path, digest in source.source_files),
        f"- converted file: `{source.file}` (sha256 `{sha256}`), weights stored as {source.storage}",
        f"- converter: `{source.converter}` — rebuild with `make models`",
        f"- licence: {spec.licence}",
        f"- reference: {spec.reference}",
        f"- input: {spec.input_spec().describe()}",
        f"- labels: {spec.labels or 'none'}",
        "",
        "## Measured",
        "",
        *(f"- {key}: {value}" for key, value in spec.metrics.items()),
    ]
    if spec.notes:
        lines += ["", "## Notes", "", spec.notes]
    return "\n".join(lines) + "\n"


def build(spec: ModelSpec, out_dir: Path) -> str:
    """Convert ``spec``'s weights into ``out_dir``. A file that rows share (a classifier and its embed row) is
    written as the first row naming it makes it, so that every row rebuilds the same bytes."""
    source = spec.weights
    assert isinstance(source, Embedded)
    maker = next(row for row in list_models() if row.weights == source)
    tensors = convert_weights(maker, fetch(source.package), source.storage)
    return save_weights(tensors, out_dir / source.file, maker)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="models to build (default: every embedded model)")
    parser.add_argument("--check", action="store_true", help="build into a temp dir; compare with the registry")
    args = parser.parse_args(argv)
    specs = [s for s in list_models() if source_kind(s) == "embedded" and (not args.names or s.name in args.names)]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = Path(tmp) if args.check else models_dir()
        built: dict[str, str] = {}  # file → sha256: a shared file is built once
        for spec in specs:
            digest = built.get(spec.weights.file) or build(spec, out_dir)
            built[spec.weights.file] = digest
            same = digest == spec.weights.sha256
            failed += not same
            print(f"{spec.name:24} {digest}  {'ok' if same else 'DIFFERS from the registry'}")
            if not args.check:
                (out_dir / f"{spec.name}.md").write_text(model_card(spec, digest))
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
