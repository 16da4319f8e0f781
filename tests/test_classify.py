"""classify end to end, as a user meets it: real photos, real weights, records, checks, exit codes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import optik
from optik.errors import UsageError
from tests.conftest import EXAMPLES
from tests.helpers import jsonl, write_rgb
from tests.helpers import optik as run_optik


def test_python_api_labels_real_photos(sample):
    cat = optik.classify(sample("chelsea"))
    assert cat.top.label in ("Egyptian cat", "tiger cat", "tabby")
    coffee = optik.classify(EXAMPLES / "coffee.png", top_k=3)
    assert coffee.top.label == "espresso" and coffee.top.score > 0.95
    assert len(coffee.predictions) == 3
    both = optik.classify([EXAMPLES / "coffee.png", sample("chelsea")])
    assert [r.top.label for r in both] == ["espresso", cat.top.label]


def test_same_input_same_output():
    first = optik.classify(EXAMPLES / "chelsea.png")
    second = optik.classify(EXAMPLES / "chelsea.png")
    assert first.to_record() == second.to_record()


def test_efficientnet_lite0_labels_real_photos():
    result = optik.classify(EXAMPLES / "coffee.png", model="efficientnet_lite0")
    assert result.top.label == "espresso"


def test_cli_jsonl_records_carry_the_schema():
    result = run_optik("classify", str(EXAMPLES / "coffee.png"), str(EXAMPLES / "chelsea.png"), "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert [Path(r["path"]).name for r in records] == ["coffee.png", "chelsea.png"]
    for record in records:
        assert {
            "schema",
            "path",
            "model",
            "weights_sha256",
            "device",
            "dtype",
            "timing_ms",
            "width",
            "height",
            "predictions",
        } <= set(record)
        assert record["device"] == "cpu" and record["dtype"] == "float32" and record["model"] == "mobilenet_v2"
        assert set(record["timing_ms"]) == {"pre", "infer", "post"}
        assert len(record["predictions"]) == 5
        scores = [p["score"] for p in record["predictions"]]
        assert scores == sorted(scores, reverse=True)
    assert records[0]["predictions"][0] == {
        "label": "espresso",
        "index": 967,
        "score": records[0]["predictions"][0]["score"],
    }
    assert (records[0]["width"], records[0]["height"]) == (600, 400)
    assert "1 failed" not in result.stderr and "2 processed" in result.stderr


def test_cli_text_json_csv_formats():
    image = str(EXAMPLES / "coffee.png")
    text = run_optik("classify", image)
    assert text.returncode == 0 and b"espresso" in text.stdout
    as_json = run_optik("classify", image, "--format", "json")
    import json

    assert json.loads(as_json.stdout)[0]["predictions"][0]["label"] == "espresso"
    as_csv = run_optik("classify", image, "--format", "csv", "-k", "2").stdout.decode().splitlines()
    assert as_csv[0] == "path,model,rank,label,index,score,output,check,skipped,error"
    assert len(as_csv) == 3 and ",1,espresso,967," in as_csv[1]


def test_bad_inputs_in_a_folder_fail_per_file_and_exit_3(tmp_path):
    shutil.copy(EXAMPLES / "coffee.png", tmp_path / "coffee.png")
    shutil.copy(EXAMPLES / "chelsea.png", tmp_path / "cat.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes((EXAMPLES / "coffee.png").read_bytes()[:300])
    (tmp_path / "notes.jpg").write_text("this is text, not a JPEG")
    (tmp_path / "Thumbs.db").write_bytes(b"\0" * 64)
    (tmp_path / ".DS_Store").write_bytes(b"\0" * 64)
    result = run_optik("classify", str(tmp_path), "--format", "jsonl")
    assert result.returncode == 3, result.stderr
    records = {Path(r["path"]).name: r for r in jsonl(result.stdout)}
    assert set(records) == {"coffee.png", "cat.png", "empty.jpg", "corrupt.png", "notes.jpg"}
    assert records["coffee.png"]["predictions"][0]["label"] == "espresso"
    assert "cat" in records["cat.png"]["predictions"][0]["label"]
    for bad in ("empty.jpg", "corrupt.png", "notes.jpg"):
        assert "error" in records[bad]
    errors = [line for line in result.stderr.splitlines() if line.startswith("optik: error:")]
    assert len(errors) == 3 and all("Traceback" not in line for line in errors)
    assert "empty file" in result.stderr and "Thumbs.db" not in result.stderr


def test_named_non_image_is_an_error(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    result = run_optik("classify", str(notes))
    assert result.returncode == 3
    assert "not a readable image" in result.stderr


def test_expect_and_min_score_checks():
    coffee, cat = str(EXAMPLES / "coffee.png"), str(EXAMPLES / "chelsea.png")
    assert run_optik("classify", coffee, "--expect", "espresso").returncode == 0
    assert run_optik("classify", cat, "--expect", "CAT").returncode == 0  # whole word, any case
    assert run_optik("classify", coffee, "--expect", "maker").returncode == 1  # a label's word, not top-1's
    misspelt = run_optik("classify", coffee, "--expect", "press")  # in no label as a whole word: a usage error
    assert misspelt.returncode == 2 and "'press' is in none of the labels" in misspelt.stderr
    result = run_optik("classify", coffee, cat, "--expect", "espresso,cup", "--format", "jsonl")
    assert result.returncode == 1
    assert "check failed" in result.stderr and "chelsea.png" in result.stderr and "coffee.png" not in result.stderr
    checks = [r["check"]["passed"] for r in jsonl(result.stdout)]
    assert checks == [True, False]
    assert run_optik("classify", coffee, "--min-score", "0.99").returncode == 0
    assert run_optik("classify", cat, "--min-score", "0.9").returncode == 1


def test_stdin_files_from_glob_and_recursion(tmp_path):
    data = (EXAMPLES / "coffee.png").read_bytes()
    from_stdin = run_optik("classify", "-", "--format", "jsonl", stdin=data)
    assert from_stdin.returncode == 0 and jsonl(from_stdin.stdout)[0]["path"] == "-"
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    shutil.copy(EXAMPLES / "coffee.png", nested / "deep.png")
    shutil.copy(EXAMPLES / "chelsea.png", tmp_path / "top.png")
    flat = run_optik("classify", str(tmp_path), "--format", "jsonl")
    assert [Path(r["path"]).name for r in jsonl(flat.stdout)] == ["top.png"]
    deep = run_optik("classify", "-r", str(tmp_path), "--format", "jsonl")
    assert sorted(Path(r["path"]).name for r in jsonl(deep.stdout)) == ["deep.png", "top.png"]
    globbed = run_optik("classify", str(tmp_path / "**" / "*.png"), "--format", "jsonl")
    assert len(jsonl(globbed.stdout)) == 2
    listing = tmp_path / "list.txt"
    listing.write_text(f"{nested / 'deep.png'}\n\n{tmp_path / 'top.png'}\n")
    listed = run_optik("classify", "--files-from", str(listing), "--format", "jsonl")
    assert len(jsonl(listed.stdout)) == 2
    piped = run_optik("classify", "--files-from", "-", "--format", "jsonl", stdin=f"{tmp_path / 'top.png'}\n".encode())
    assert len(jsonl(piped.stdout)) == 1


def test_usage_errors_exit_2(tmp_path):
    nothing = run_optik("classify", str(tmp_path / "*.jpg"))
    assert nothing.returncode == 2 and "no images matched" in nothing.stderr
    assert run_optik("classify").returncode == 2
    wrong = run_optik("classify", str(EXAMPLES / "coffee.png"), "--model", "mobilenet_v3")
    assert wrong.returncode == 2 and "did you mean" in wrong.stderr
    assert run_optik("classify", str(EXAMPLES / "coffee.png"), "--top-k", "0").returncode == 2
    assert "Traceback" not in wrong.stderr


def test_cuda_without_gpu_is_an_error_and_half_on_cpu_warns():
    import torch

    image = str(EXAMPLES / "coffee.png")
    if not torch.cuda.is_available():
        result = run_optik("classify", image, "--device", "cuda")
        assert result.returncode == 2 and "no usable CUDA device" in result.stderr
    half = run_optik("classify", image, "--half", "--device", "cpu", "--format", "jsonl")
    assert half.returncode == 0 and "--half needs CUDA" in half.stderr
    assert jsonl(half.stdout)[0]["dtype"] == "float32"


def test_pixel_limit_stops_huge_images(tmp_path):
    big = write_rgb(tmp_path / "big.png", np.zeros((600, 800, 3), np.uint8) + 90)
    result = run_optik("classify", str(big), "--max-pixels", "100000")
    assert result.returncode == 3 and "over the limit" in result.stderr


def test_verbose_names_the_device_and_quiet_silences():
    image = str(EXAMPLES / "coffee.png")
    assert "on cpu" in run_optik("classify", image, "-v").stderr
    assert run_optik("classify", image, "-q").stderr == ""


def test_a_task_that_goes_image_by_image_gives_torch_the_workers_cpus_too():
    """classify batches and keeps CPUs for decoding; enhance runs one image at a time, seconds each."""
    image = str(EXAMPLES / "coffee.png")
    assert "one image at a time" not in run_optik("classify", image, "-v").stderr
    enhanced = run_optik("enhance", image, "-m", "none", "--auto-levels", "-o", "-", "-v")
    assert enhanced.returncode == 0 and "one image at a time, so torch shares the workers' CPUs" in enhanced.stderr


def test_unknown_task_for_model():
    from optik.registry import get_spec

    with pytest.raises(UsageError):
        get_spec("mobilenet_v2", task="detect")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["classify", "--help"],
        ["segment", "--help"],
        ["models", "list", "--format", "json"],
        ["models", "info", "nanodet"],
        ["style", "--list"],
        ["classify", str(EXAMPLES / "coffee.png"), "-m", "nosuch"],
        ["classify", str(EXAMPLES / "coffee.png"), "--top-k", "0"],
        ["detect", str(EXAMPLES / "coffee.png"), "--classes", "persn"],
        ["segment", str(EXAMPLES / "coffee.png"), "-m", "selfie", "--k", "3"],
        ["style", str(EXAMPLES / "coffee.png"), "--style", "van-gogh", "-o", "x.png"],
        ["classify", "no/such/folder/"],
    ],
)
def test_help_listings_and_usage_errors_load_neither_torch_nor_opencv(args):
    """What answers at once must not pay for torch (seconds) or OpenCV: help, listings, usage errors."""
    import subprocess
    import sys

    code = (
        "import sys; from optik.cli.common import run_cli; code = run_cli(sys.argv[1:]); "
        "heavy = [m for m in ('torch', 'cv2', 'numpy') if m in sys.modules]; "
        "assert not heavy, heavy; sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert result.returncode in (0, 2), result.stderr
    assert "AssertionError" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_version():
    version = run_optik("--version")
    assert version.returncode == 0 and version.stdout.decode().startswith("optik, version")


def test_draft_decodes_large_jpegs_reduced_and_keeps_original_size(tmp_path, sample):
    import cv2

    big = cv2.resize(sample("coffee"), (1800, 1200), interpolation=cv2.INTER_CUBIC)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    exact = optik.classify(path)
    draft = optik.classify(path, draft=True)
    assert (draft.width, draft.height) == (exact.width, exact.height) == (1800, 1200)
    assert draft.top.label == exact.top.label == "espresso"
    assert abs(draft.top.score - exact.top.score) < 0.03
