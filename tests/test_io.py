"""Input discovery and output paths: mirroring, refusing to overwrite, atomic writes, stdout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from optik.errors import InputError, UsageError
from optik.io.inputs import discover
from optik.io.outputs import OutputPlan, write_atomic, write_output
from optik.preprocess.decode import Image


def _tree(root: Path) -> None:
    for name in ("a.jpg", "b.PNG", "sub/c.webp", "sub/deeper/d.tif", "notes.txt", "Thumbs.db", ".hidden/e.png"):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_directories_globs_and_dedup(tmp_path):
    _tree(tmp_path)
    flat = discover([str(tmp_path)])
    assert [item.relative.as_posix() for item in flat] == ["a.jpg", "b.PNG"]
    deep = discover([str(tmp_path)], recursive=True)
    assert [item.relative.as_posix() for item in deep] == ["a.jpg", "b.PNG", "sub/c.webp", "sub/deeper/d.tif"]
    globbed = discover([f"{tmp_path}/**/*.*"])
    assert {item.relative.as_posix() for item in globbed} >= {"a.jpg", "sub/c.webp", "sub/deeper/d.tif"}
    twice = discover([str(tmp_path / "a.jpg"), str(tmp_path), str(tmp_path / "a.jpg")])
    assert len(twice) == 2
    with pytest.raises(UsageError, match="no images matched"):
        discover([f"{tmp_path}/*.gif"])
    with pytest.raises(UsageError):
        discover(["-", "-"])


def test_output_plan_file_directory_and_stdout(tmp_path):
    _tree(tmp_path)
    items = discover([str(tmp_path)], recursive=True)
    plan = OutputPlan.create(str(tmp_path / "out"), items, suffix=".png")
    assert plan.many and plan.path_for(items[2]) == tmp_path / "out" / "sub" / "c.png"
    single = OutputPlan.create(str(tmp_path / "result.png"), items[:1])
    assert not single.many and single.path_for(items[0]) == tmp_path / "result.png"
    with pytest.raises(UsageError):
        OutputPlan.create("-", items)
    assert OutputPlan.create("-", items[:1]).to_stdout


def test_never_overwrites_an_input_or_existing_output(tmp_path):
    _tree(tmp_path)
    item = discover([str(tmp_path / "a.jpg")])[0]
    pixels = Image(np.full((4, 4, 3), 200, np.uint8))
    onto_input = OutputPlan.create(str(tmp_path / "a.jpg"), [item], overwrite=True)
    with pytest.raises(InputError, match="is the input itself"):
        write_output(onto_input, item, tmp_path / "a.jpg", pixels)
    assert (tmp_path / "a.jpg").read_bytes() == b"x"
    existing = tmp_path / "exists.png"
    existing.write_bytes(b"old")
    plan = OutputPlan.create(str(existing), [item])
    with pytest.raises(InputError, match="--overwrite"):
        write_output(plan, item, existing, pixels)
    write_output(OutputPlan.create(str(existing), [item], overwrite=True), item, existing, pixels)
    assert existing.read_bytes().startswith(b"\x89PNG")
    assert OutputPlan.create(str(existing), [item], skip_existing=True).should_skip(item)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "out.png"
    write_atomic(target, b"complete")
    assert target.read_bytes() == b"complete" and oct(target.stat().st_mode)[-3:] == "644"

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_atomic(target, b"half")
    assert target.read_bytes() == b"complete"
    assert [p.name for p in target.parent.iterdir()] == ["out.png"]
