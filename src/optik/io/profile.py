"""Gate profiles for ``optik check``: a small TOML file a repository keeps its rules in.

The gates are top-level keys, or the keys of a ``[check]`` table, named as the command-line flags without the
dashes or as the Python API's arguments (``min-size = "800x600"``, ``max_noise = 3``, ``formats = ["JPEG",
"PNG"]``, ``upright = true``)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from optik.errors import SettingError


def read_profile(path: str | Path) -> dict[str, Any]:
    """The gates in the TOML file at ``path``; a :class:`SettingError` on ``profile`` when it cannot be read."""
    try:
        with open(path, "rb") as stream:
            document = tomllib.load(stream)
    except OSError as exc:
        raise SettingError("profile", f"{path}: cannot read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError("profile", f"{path}: not valid TOML ({exc})") from None
    gates = document.get("check", document)
    if not isinstance(gates, dict):
        raise SettingError("profile", f"{path}: [check] must be a table of gates")
    return gates
