"""Small helpers the tests share: running the CLI in-process and writing test images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np


def optik(*args: str, stdin: bytes | None = None, env: dict | None = None, cwd: Path | None = None):
    """Run ``python -m optik ARGS`` and return the CompletedProcess (stdout bytes, stderr text)."""
    import os

    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "optik", *args], input=stdin, capture_output=True, env=full_env, cwd=cwd
    )
    result.stderr = result.stderr.decode()
    return result


def jsonl(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 array with OpenCV (BGR on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path
