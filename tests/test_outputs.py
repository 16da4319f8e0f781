"""Where outputs go: decided before any work, never colliding, never outside -o, never onto an input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES
from tests.helpers import jsonl, optik

COMMON = ("-m", "none", "--scale", "0.25", "--format", "jsonl")


def _photos(root: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / "coffee.png", root / name)
        paths.append(root / name)
    return paths


def test_same_file_names_mirror_their_folders_instead_of_colliding(tmp_path):
    first, second = _photos(tmp_path, "a/coffee.png", "b/coffee.png")
    run = optik("enhance", str(first), str(second), "-o", str(tmp_path / "out") + "/", *COMMON)
    assert run.returncode == 0, run.stderr
    assert [r["output"] for r in jsonl(run.stdout)] == [
        str(tmp_path / "out/a/coffee.png"),
        str(tmp_path / "out/b/coffee.png"),
    ]
    labels = optik("detect", str(first), str(second), "--labels-out", str(tmp_path / "labels"), "--format", "jsonl")
    assert labels.returncode == 0 and sorted(
        p.relative_to(tmp_path / "labels").as_posix() for p in (tmp_path / "labels").rglob("*.txt")
    ) == ["a/coffee.txt", "b/coffee.txt", "classes.txt"]


def test_forced_suffixes_keep_same_stem_inputs_apart(tmp_path):
    _photos(tmp_path / "in", "x.png")
    shutil.copy(EXAMPLES / "rocket.jpg", tmp_path / "in" / "x.jpg")
    run = optik("segment", "-m", "otsu", "--mode", "mask", str(tmp_path / "in"), "-o", str(tmp_path / "out") + "/")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x.jpg.png", "x.png.png"]


def test_one_image_file_for_several_inputs_is_a_usage_error(tmp_path):
    photos = _photos(tmp_path, "a.png", "b.png")
    run = optik("enhance", *map(str, photos), "-o", str(tmp_path / "single.png"), *COMMON)
    assert run.returncode == 2 and "need a directory" in run.stderr and not (tmp_path / "single.png").exists()


def test_outputs_never_leave_the_output_directory(tmp_path):
    """A glob with .. after the wildcard, and the same through --files-from: outputs stay below -o."""
    (tmp_path / "in" / "sub").mkdir(parents=True)
    _photos(tmp_path, "data/secret_b.png")
    pattern = f"{tmp_path}/in/*/../../data/secret*.png"
    out = tmp_path / "outdir" / "deep"
    run = optik("enhance", pattern, "-o", f"{out}/", *COMMON)
    assert run.returncode == 0, run.stderr
    (written,) = [Path(r["output"]) for r in jsonl(run.stdout)]
    assert written.resolve().is_relative_to(out.resolve()) and written.exists()
    assert not (tmp_path / "outdir" / "data").exists()


def test_outputs_inside_the_input_folder_are_not_inputs_next_time(tmp_path):
    _photos(tmp_path / "photos", "a.png")
    args = ("style", "-r", str(tmp_path / "photos"), "--style", "pencil", "--size", "64", "-o")
    assert optik(*args, str(tmp_path / "photos" / "styled") + "/").returncode == 0
    again = optik(*args, str(tmp_path / "photos" / "styled") + "/", "--overwrite", "--format", "jsonl")
    assert again.returncode == 0, again.stderr
    assert [Path(r["path"]).name for r in jsonl(again.stdout)] == ["a.png"]
    assert not (tmp_path / "photos" / "styled" / "styled").exists()


def test_a_hard_link_is_one_input(tmp_path):
    (photo,) = _photos(tmp_path, "a.png")
    os.link(photo, tmp_path / "b.png")
    run = optik("classify", str(tmp_path), "--format", "jsonl")
    assert run.returncode == 0 and len(jsonl(run.stdout)) == 1


def test_image_data_is_never_written_to_a_terminal(tmp_path):
    """-o - onto a terminal is refused (the image would be garbage on screen)."""
    import pty

    script = (
        "import sys; from optik.cli.common import run_cli; "
        f"sys.exit(run_cli(['enhance', {str(EXAMPLES / 'coffee.png')!r}, '-m', 'none', '-o', '-']))"
    )
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdout is the terminal
        os.execv(sys.executable, [sys.executable, "-c", script])
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 2, output
    assert b"would write image data to the terminal" in output and b"\x89PNG" not in output


def test_long_names_write_and_stale_temporaries_are_cleaned(tmp_path):
    from optik.io.outputs import _temporary_prefix, write_atomic

    long_name = tmp_path / ("n" * 245 + ".png")  # the name itself fits NAME_MAX (255); a longer temp name would not
    stale = tmp_path / f"{_temporary_prefix(long_name)}abc.part"
    stale.write_bytes(b"half an image")  # what a killed run leaves
    write_atomic(long_name, b"whole")
    assert long_name.read_bytes() == b"whole" and not stale.exists()
    assert [p.name for p in tmp_path.iterdir()] == [long_name.name]


def test_unwritable_targets_fail_before_any_work(tmp_path):
    photo = str(EXAMPLES / "coffee.png")
    read_only = optik("enhance", photo, "-o", "/proc/optik-cannot-write-here/", *COMMON)
    assert read_only.returncode == 2 and "cannot write there" in read_only.stderr and read_only.stdout == b""
    for target, message in (("", "not stdout"), ("-", "not stdout")):
        run = optik("detect", photo, "--labels-out", target)
        assert run.returncode == 2 and message in run.stderr, run.stderr
    existing = tmp_path / "labels"
    existing.write_text("not a folder")
    run = optik("detect", photo, "--labels-out", str(existing))
    assert run.returncode == 2 and "go in a directory" in run.stderr and "Traceback" not in run.stderr


def test_records_onto_a_full_disk_are_one_line_errors():
    """/dev/full fails every write with ENOSPC."""
    with open("/dev/full", "wb") as full:
        run = subprocess.run(
            [sys.executable, "-m", "optik", "classify", str(EXAMPLES / "coffee.png"), "--format", "jsonl"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert run.returncode == 3, run.stderr
    assert "cannot write: No space left on device" in run.stderr and "Traceback" not in run.stderr


def test_a_closed_pipe_is_not_an_error(tmp_path):
    photos = _photos(tmp_path, "a.png", "b.png", "c.png")
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    run = subprocess.run(
        [sys.executable, "-m", "optik", "classify", *map(str, photos)],
        stdout=reader.stdin,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader.stdin.close()
    reader.wait()
    assert run.returncode == 0 and "Traceback" not in run.stderr and "BrokenPipe" not in run.stderr


def test_sigterm_stops_cleanly_with_143_and_leaves_nothing_partial(tmp_path):
    import signal

    big = tmp_path / "in" / "big.png"
    big.parent.mkdir()
    shutil.copy(EXAMPLES / "astronaut.png", big)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "optik", "enhance", str(big), "-o", f"{out}/", "--tile", "64", "--threads", "1"]
    process = subprocess.Popen([*command, "-v"], stderr=subprocess.PIPE, text=True)
    for line in process.stderr:  # the model is loaded and the tiles of x4plus start: far from done
        if "optik: threads:" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143 and "optik: terminated" in stderr and "Traceback" not in stderr
    assert not out.exists() or not any(out.rglob("*"))


def test_file_names_that_are_not_utf8_pass_through(tmp_path):
    name = os.fsdecode(b"caf\xe9.png")  # Latin-1 bytes: not UTF-8
    shutil.copy(EXAMPLES / "coffee.png", tmp_path / name)
    run = subprocess.run(
        [sys.executable, "-m", "optik", "classify", str(tmp_path), "--format", "jsonl"],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert run.returncode == 0, run.stderr
    assert b"caf\xe9.png" in run.stdout and b"espresso" in run.stdout
