"""The files a converter reads: members of an unpacked package, checked against the row's sha256 first."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from optik.registry.packages import Package, PackageFile, member


class SourceFiles(Mapping[str, Path]):
    """Local paths of a package's files by their path inside the package, each already checked against the
    sha256 its catalog row records (the one place those checksums are written)."""

    def __init__(self, paths: Mapping[str, Path]):
        self._paths = dict(paths)

    def __getitem__(self, key: str) -> Path:
        return self._paths[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def one(self, name: str) -> Path:
        """The one file called ``name`` (``"nanodet.json"``), or with that extension (``".param"``)."""
        found = [
            path
            for key, path in self._paths.items()
            if key.rsplit("/", 1)[-1] == name or (name.startswith(".") and key.endswith(name))
        ]
        if len(found) != 1:
            raise KeyError(f"{name}: {len(found)} of the source files {sorted(self._paths)} match")
        return found[0]


def checked_files(package: Package, source_files: tuple[tuple[str, str], ...], root: Path) -> SourceFiles:
    """``source_files`` (path inside the package, sha256) of the package unpacked at ``root``, each checked."""
    return SourceFiles({path: member(PackageFile(package, path, sha256), root) for path, sha256 in source_files})
