"""One record format for every command: the JSON Schema in io/record.schema.json, input order, one record
per input (failed and skipped ones too), CSV with output and check columns, one text pattern."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.helpers import jsonl, optik, valid


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Three photos with a broken file between them (names sort: a, b (broken), c, d)."""
    root = tmp_path_factory.mktemp("inputs")
    shutil.copy(EXAMPLES / "coffee.png", root / "a.png")
    (root / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    shutil.copy(EXAMPLES / "chelsea.png", root / "c.png")
    shutil.copy(EXAMPLES / "astronaut.png", root / "d.png")
    return root


COMMANDS = {
    "classify": ["classify", "--expect", "cat"],
    "detect": ["detect", "--expect", "person", "--crops", "{out}/crops", "--labels-out", "{out}/labels"],
    "detect-mtcnn": ["detect", "-m", "mtcnn", "-o", "{out}/faces/", "--redact", "blur"],
    "segment": ["segment", "-m", "selfie", "--polygons", "-o", "{out}/cut/", "--min-foreground", "0.1"],
    "segment-grabcut": ["segment", "-m", "grabcut"],
    "segment-kmeans": ["segment", "-m", "kmeans", "--k", "3"],
    "enhance": ["enhance", "-m", "none", "--scale", "0.25", "--sharpen", "-o", "{out}/small/"],
    "style": ["style", "--style", "cartoon", "--size", "64", "-o", "{out}/styled/"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_writes_schema_records_in_input_order(command, folder, tmp_path):
    args = [arg.format(out=tmp_path) for arg in COMMANDS[command]]
    run = optik(*args[:1], str(folder), *args[1:], "--format", "jsonl")
    assert run.returncode == 3, run.stderr  # the broken file failed, the others did not
    records = jsonl(run.stdout)
    for record in records:
        valid(record)
    assert [Path(r["path"]).name for r in records] == ["a.png", "b.png", "c.png", "d.png"]  # input order
    assert "error" in records[1] and all("error" not in r for r in records[::2])
    assert all((r["width"], r["height"]) in ((600, 400), (451, 300), (512, 512)) for r in records if "width" in r)


def test_skipped_inputs_have_records_and_csv_carries_output_and_check(folder, tmp_path):
    out = tmp_path / "cut"
    first = optik("segment", "-m", "otsu", str(folder / "a.png"), "-o", f"{out}/", "--format", "jsonl")
    assert first.returncode == 0, first.stderr
    again = optik(
        "segment", "-m", "otsu", str(folder / "a.png"), str(folder / "c.png"), "-o", f"{out}/",
        "--skip-existing", "--max-foreground", "0.01", "--format", "csv",
    )  # fmt: skip
    assert again.returncode == 1, again.stderr  # c.png fails the check; a.png was skipped
    rows = list(csv.DictReader(io.StringIO(again.stdout.decode())))
    assert list(rows[0])[-4:] == ["output", "check", "skipped", "error"]
    assert rows[0]["skipped"] == "true" and rows[0]["output"] == str(out / "a.png")
    assert rows[1]["check"].startswith("failed: foreground") and rows[1]["output"] == str(out / "c.png")
    records = jsonl(optik("segment", "-m", "otsu", str(folder / "a.png"), "-o", f"{out}/", "--skip-existing",
                          "--format", "jsonl").stdout)  # fmt: skip
    valid(records[0])
    assert records == [{"schema": 2, "path": str(folder / "a.png"), "skipped": True, "output": str(out / "a.png")}]


def test_text_records_follow_one_pattern(folder, tmp_path):
    """``PATH[ -> OUTPUT]<TAB>SUMMARY`` for every command; --top-k labels in text too."""
    classified = optik("classify", str(folder / "a.png"), "-k", "4").stdout.decode().strip()
    path, summary = classified.split("\t")
    assert path == str(folder / "a.png") and summary.count(",") == 3 and summary.startswith("espresso")
    enhanced = optik("enhance", "-m", "none", str(folder / "c.png"), "-o", str(tmp_path / "c.png")).stdout.decode()
    assert enhanced.startswith(f"{folder / 'c.png'} -> {tmp_path / 'c.png'}\t451×300 → 451×300")
