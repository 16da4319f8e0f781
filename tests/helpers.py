"""What the tests share: one way to run the CLI (in this process, or as a real subprocess), one PSNR, images."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from contextlib import chdir
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np


def optik(*args: str, stdin: bytes | None = None, env: dict | None = None, cwd: Path | None = None) -> SimpleNamespace:
    """Run ``optik ARGS`` in this process through the real entry point: ``returncode``, ``stdout`` (bytes),
    ``stderr`` (text). Models stay loaded between calls, which is what makes the suite quick; the logger
    and torch's thread count are restored afterwards so nothing leaks into the next test."""
    import torch
    from click.testing import CliRunner

    from optik.cli.common import run_cli

    logger = logging.getLogger("optik")
    saved = logger.handlers[:], logger.level, logger.propagate, torch.get_num_threads()
    runner = CliRunner()
    try:
        with runner.isolation(input=stdin, env=env) as (out, err, _), chdir(cwd or Path.cwd()):
            code = run_cli(list(args))
            return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue().decode())
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved[:3]
        torch.set_num_threads(saved[3])


def optik_process(
    *args: str, stdin: bytes | None = None, env: dict | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run ``python -m optik ARGS`` as a real process (entry point, pipes, signals, start-up):
    stdout bytes, stderr text."""
    result = subprocess.run(
        [sys.executable, "-m", "optik", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
    )
    result.stderr = result.stderr.decode()
    return result


def valid(record: dict) -> dict:
    """``record``, checked against the one record schema (src/optik/io/record.schema.json)."""
    import jsonschema

    from optik.io.records import SCHEMA_FILE

    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(record)
    return record


def jsonl(stdout: bytes) -> list[dict]:
    return [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB (``inf`` when equal); ``peak`` 1.0 for images in [0, 1]."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def write_rgb(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB uint8 array with OpenCV (BGR on disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path
