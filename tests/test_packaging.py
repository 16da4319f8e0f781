"""optik installs as a package: a wheel built from this tree, installed into a fresh virtual environment,
finds its embedded weights and runs from a directory outside the checkout."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

from optik.registry import get_spec
from tests.conftest import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent


def _source_tree(target: Path) -> Path:
    """The files git would commit (tracked and new, ignored ones left out), copied to ``target``."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / name.decode()
        if source.is_file():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    return target


def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path) -> None:
    source = _source_tree(tmp_path / "src")
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), "."]
    subprocess.run(build, cwd=source, check=True, capture_output=True)
    (wheel,) = wheels.glob("optik-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    packages = Path(
        subprocess.check_output(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], text=True
        ).strip()
    )
    # reuse this environment's torch & co. (after the new venv's own site-packages, so optik comes from the wheel)
    (packages / "shared-dependencies.pth").write_text("".join(f"{path}\n" for path in site.getsitepackages()))
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.check_output(
        [str(python), "-c", "import optik.registry.weights as w; print(w.__file__); print(w.models_dir())"],
        cwd=elsewhere,
        text=True,
    ).split()
    assert where[0].startswith(str(packages)) and where[1] == str(packages / "optik" / "models")

    optik = venv / "bin" / "optik"
    run = subprocess.run(
        [str(optik), "classify", str(EXAMPLES / "coffee.png"), "--format", "jsonl"], cwd=elsewhere, capture_output=True
    )
    assert run.returncode == 0, run.stderr.decode()
    record = json.loads(run.stdout)
    assert record["predictions"][0]["label"] == "espresso"
    assert record["weights_sha256"] == get_spec("mobilenet_v2").weights.sha256
    verify = subprocess.run([str(optik), "models", "verify"], cwd=elsewhere, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "mobilenet_v2" in verify.stdout and "FAILED" not in verify.stdout
