"""optik on Ray Data (:mod:`optik.ray`) on a local two-CPU Ray: for every task the records and the image
bytes of the local engine; outputs below a local directory and a ``file://`` URI; ``--skip-existing`` and
the refusal of existing outputs; a worker killed mid-run; bad inputs as error records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import pytest

from optik.io.inputs import discover
from optik.io.labels import YoloLabels
from optik.io.outputs import OutputPlan, OutputStage
from optik.registry import get_spec
from optik.tasks.settings import (
    ClassifySettings,
    DetectSettings,
    EmbedSettings,
    EnhanceSettings,
    OcrSettings,
    SegmentSettings,
    StyleSettings,
)
from tests.conftest import EXAMPLES
from tests.helpers import jsonl
from tests.helpers import optik as run_optik

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")  # Ray's own
ray = pytest.importorskip("ray")  # optik[ray]: the test toolchain installs it, so a skip fails the suite
optik_ray = pytest.importorskip("optik.ray")

#: task: (settings, model, the same on the command line, the suffix -o DIR forces, whether images are written)
TASKS: dict[str, tuple[Any, str | None, list[str], str | None, bool]] = {
    "classify": (ClassifySettings(top_k=3), None, ["--top-k", "3"], None, False),
    "detect": (DetectSettings(conf=0.2), "nanodet", ["--conf", "0.2"], None, True),
    "segment": (SegmentSettings(), "selfie", ["-m", "selfie"], ".png", True),
    "enhance": (
        EnhanceSettings(scale=2),
        "realesr-animevideov3",
        ["-m", "realesr-animevideov3", "-s", "2"],
        None,
        True,
    ),
    "style": (StyleSettings("blue-swirls"), "multistyle26", ["--style", "blue-swirls"], None, True),
    "ocr": (OcrSettings(min_score=0.3), None, ["--min-score", "0.3"], None, True),
    "embed": (EmbedSettings(), None, [], None, False),
}
PNG_END = b"IEND\xaeB`\x82"


def _descendants(pid: int) -> dict[int, str]:
    """The processes below ``pid`` (Ray's raylet, GCS and workers below this test's ``ray.init``): command lines."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, [pid]
    while frontier:
        parent = frontier.pop()
        for child, its_parent in parents.items():
            if its_parent == parent and child not in found:
                try:
                    found[child] = (Path("/proc") / str(child) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                except OSError:
                    continue
                frontier.append(child)
    return found


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (2 CPUs, no dashboard), shut down afterwards with all its processes."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()
    deadline = time.monotonic() + 30
    while (left := {pid: cmd for pid, cmd in _descendants(os.getpid()).items() if "ray" in cmd}) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    assert not left, f"Ray processes left running: {left}"


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three example photos, small (so that five tasks run in seconds), and one file that is no image."""
    folder = tmp_path_factory.mktemp("photos")
    for name, width in (("coffee", 112), ("chelsea", 96), ("astronaut", 80)):
        image = cv2.imread(str(EXAMPLES / f"{name}.png"))
        height = round(image.shape[0] * width / image.shape[1])
        cv2.imwrite(str(folder / f"{name}.png"), cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a PNG")
    return folder


def comparable(record: dict, output_root: str | None = None) -> dict:
    """A record without its timings, its output named relative to the output directory."""
    record = {key: value for key, value in record.items() if key != "timing_ms"}
    if output_root is not None and "output" in record:
        record["output"] = record["output"].removeprefix(output_root)
    return record


def image_files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def ray_rows(task: str, items: list, output: str | None, **options: Any) -> list:
    settings, model, _, suffix, _ = TASKS[task]
    stage = OutputStage(OutputPlan.create(output, items, suffix, **options)) if output else None
    return list(optik_ray.run(task, settings, items, model=model, stage=stage))


@pytest.fixture(scope="module")
def ray_answers(local_ray, photos, tmp_path_factory) -> dict[str, tuple[Path, Path, list]]:
    """Every task on Ray at the same time (five runs from five threads, an actor of 0.4 CPU each, so that
    their start-ups overlap): task → (its inputs, its output directory, its rows)."""
    from concurrent.futures import ThreadPoolExecutor

    def answer(task: str) -> tuple[Path, Path, list]:
        settings, model, _, suffix, writes = TASKS[task]
        inputs, outputs = tmp_path_factory.mktemp(f"{task}-in"), tmp_path_factory.mktemp(f"{task}-ray")
        for photo in photos.iterdir():
            (inputs / photo.name).write_bytes(photo.read_bytes())
        items = discover([str(inputs)])
        stage = OutputStage(OutputPlan.create(f"{outputs}/", items, suffix)) if writes else None
        return inputs, outputs, list(optik_ray.run(task, settings, items, model=model, stage=stage, num_cpus=0.4))

    with ThreadPoolExecutor(len(TASKS)) as pool:
        return dict(zip(TASKS, pool.map(answer, TASKS), strict=True))


@pytest.mark.parametrize("task", TASKS)
def test_ray_gives_the_local_engines_records_and_image_bytes(task, ray_answers, tmp_path):
    inputs, ray_out, rows = ray_answers[task]
    _, _, flags, _, writes = TASKS[task]
    local_out = tmp_path / "local"
    output = ["-o", f"{local_out}/"] if writes else []
    local = run_optik(task, str(inputs), *flags, *output, "--format", "jsonl", "--threads", "1", "--no-progress")
    assert local.returncode == 3, local.stderr  # the broken input

    expected = {record["path"]: comparable(record, f"{local_out}/") for record in jsonl(local.stdout)}
    assert {row.path: comparable(row.record, f"{ray_out}/") for row in rows} == expected
    assert sorted(row.status for row in rows) == ["failed", "processed", "processed", "processed"]
    broken = next(row for row in rows if row.status == "failed")
    assert broken.path.endswith("broken.png") and "broken.png" in broken.record["error"]
    if writes:
        written = image_files(ray_out)
        assert len(written) == 3 and written == image_files(local_out)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_records_dir_gets_the_records_as_parts_and_the_driver_the_counts_and_failures(fmt, ray_answers, tmp_path):
    """``--records DIR``: the records are written by Ray's write tasks, one part each, and come back only
    as counts and the failures to tell on stderr."""
    import json

    import pyarrow.parquet as pq

    rows = ray_answers["detect"][2]
    columns = [
        {"path": row.path, "status": row.status, "record": json.dumps(row.record), "text": row.text}
        | {"csv": json.dumps(row.csv_rows)}
        for row in rows
    ]
    run = optik_ray.RayRun(ray.data.from_items(columns, override_num_blocks=2), f"{tmp_path}/records", fmt)
    told = list(run)
    assert [row.path for row in told] == [row.path for row in rows if row.status == "failed"]
    assert run.counts == {"processed": 3, "failed": 1, "checks_failed": 0}
    parts = sorted((tmp_path / "records").iterdir())
    assert parts and all(part.suffix == f".{fmt}" for part in parts)
    if fmt == "jsonl":
        written = [json.loads(line) for part in parts for line in part.read_text().splitlines()]
    else:
        written = [json.loads(text) for text in pq.read_table(tmp_path / "records").column("record").to_pylist()]
    assert sorted(written, key=lambda record: record["path"]) == sorted(
        (row.record for row in rows), key=lambda record: record["path"]
    )


def test_uri_inputs_and_a_file_uri_output_go_through_pyarrow_with_the_same_names_and_bytes(local_ray, photos, tmp_path):
    """Inputs listed and read, outputs published through pyarrow.fs (file://); an output that was there
    before is refused without --overwrite and left alone with --skip-existing."""
    target = f"{tmp_path.as_uri()}/cutouts/"
    (tmp_path / "cutouts").mkdir()
    (tmp_path / "cutouts" / "coffee.png").write_bytes(b"not optik's")
    items = optik_ray.list_uris([photos.as_uri()])
    assert [item.relative.name for item in items] == ["astronaut.png", "broken.png", "chelsea.png", "coffee.png"]
    rows = ray_rows("segment", items, target)
    local_out = f"{tmp_path}/local/"
    local = run_optik("segment", str(photos), "-m", "selfie", "-o", local_out, "--format", "jsonl", "--threads", "1")

    expected = {Path(record["path"]).name: comparable(record, local_out) for record in jsonl(local.stdout)}
    for record in expected.values():
        record["path"] = f"{photos.as_uri()}/{Path(record['path']).name}"
        if "error" in record:  # the file is read through pyarrow, then decoded the same way
            record["error"] = record["error"].replace(str(photos), photos.as_uri())
    expected["coffee.png"] = {
        "schema": expected["coffee.png"]["schema"],
        "path": f"{photos.as_uri()}/coffee.png",
        "error": f"{target}coffee.png: exists (use --overwrite to replace it, --skip-existing to keep it)",
    }
    assert {Path(row.path).name: comparable(row.record, target) for row in rows} == expected
    written = image_files(tmp_path / "cutouts")  # and no temporary file left
    assert written == {**image_files(tmp_path / "local"), "coffee.png": b"not optik's"}

    again = ray_rows("segment", items, target, skip_existing=True)
    assert sorted((Path(row.path).name, row.status) for row in again) == [
        ("astronaut.png", "skipped"),
        ("broken.png", "failed"),
        ("chelsea.png", "skipped"),
        ("coffee.png", "skipped"),
    ]
    assert {row.record["output"] for row in again if row.status == "skipped"} == {
        f"{target}{name}" for name in ("astronaut.png", "chelsea.png", "coffee.png")
    }
    assert image_files(tmp_path / "cutouts") == written


def test_a_worker_killed_mid_run_still_processes_every_input_exactly_once(local_ray, photos, tmp_path):
    """SIGKILL to the actor while batches remain: Ray restarts it and retries its batch; its outputs are
    written again whole (atomically), and the retry does not refuse what the dead actor wrote. Half the
    inputs are local files (written in place), half file:// URIs (staged, then published)."""
    for copy in range(8):
        (tmp_path / "in" / f"{copy}").mkdir(parents=True)
        (tmp_path / "in" / f"{copy}" / "coffee.png").write_bytes((photos / "coffee.png").read_bytes())
    uris = optik_ray.list_uris([(tmp_path / "in").as_uri()], recursive=True)
    items = [*discover([str(tmp_path / "in")], recursive=True)[:4], *uris[4:]]
    assert [str(item.relative) for item in items] == [f"{n}/coffee.png" for n in range(8)]
    stage = OutputStage(OutputPlan.create(f"{tmp_path}/out/", items))
    settings, model, *_ = TASKS["enhance"]
    rows, actors = [], []
    for row in optik_ray.run("enhance", settings, items, model=model, stage=stage, batch_size=2):
        rows.append(row)  # four batches of two: the first is back, the others are queued or running
        actors += [pid for pid, cmd in _descendants(os.getpid()).items() if "_TaskActor" in cmd and pid not in actors]
        if len(rows) == 1:
            assert len(actors) == 1, actors
            os.kill(actors[0], signal.SIGKILL)
    assert len(actors) == 2, actors  # the actor killed and the one Ray started in its place
    assert sorted(row.path for row in rows) == sorted(item.source for item in items)  # each once
    assert {row.status for row in rows} == {"processed"}
    outputs = sorted((tmp_path / "out").rglob("*"))
    files = [path for path in outputs if path.is_file()]
    assert [str(path.relative_to(tmp_path / "out")) for path in files] == [f"{n}/coffee.png" for n in range(8)]
    height, width = cv2.imread(str(photos / "coffee.png")).shape[:2]
    for path in files:  # whole files: the PNG's last chunk is there and it decodes at twice the size
        assert path.read_bytes().endswith(PNG_END)
        assert cv2.imread(str(path)).shape[:2] == (2 * height, 2 * width)


def test_faces_with_a_gallery_and_anomaly_with_a_fitted_model_give_the_local_records(local_ray, photos, tmp_path):
    """The later per-image tasks whose settings carry more than numbers: a face gallery travels to the
    actors with the settings, a fitted anomaly model is a directory that every worker reads."""
    import torch

    import optik
    from optik.tasks.settings import AnomalySettings, FacesSettings

    paths = [str(EXAMPLES / "astronaut.png"), str(photos / "coffee.png"), str(photos / "chelsea.png")]
    people = optik.enroll({"astronaut": [EXAMPLES / "astronaut.png"]})
    fitted = optik.fit_anomaly([photos / name for name in ("coffee.png", "chelsea.png", "astronaut.png")] * 3)
    model_dir = str(fitted.save(tmp_path / "anomaly"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the actors of 0.5 CPU run: the same float sums to the last digit
    try:
        local_faces, local_anomaly = optik.faces(paths, db=people), optik.anomaly(paths, model_dir)
    finally:
        torch.set_num_threads(threads)
    assert [face.name for face in local_faces[0].faces] == ["astronaut"]
    runs = {
        "faces": (FacesSettings(gallery=people), people.model, local_faces),
        "anomaly": (AnomalySettings(), model_dir, local_anomaly),
    }
    for task, (settings, model, local) in runs.items():
        rows = optik_ray.run(task, settings, discover(paths), model=model, num_cpus=0.5)
        expected = {result.record["path"]: comparable(result.record) for result in local}
        assert {row.path: comparable(row.record) for row in rows} == expected, task


def test_detection_crops_and_labels_on_ray_are_the_local_engines_files(local_ray, photos, tmp_path):
    """``--crops`` (a file:// URI) and YOLO labels (a local directory) from Ray: the local engine's files byte
    for byte, the records naming each crop where it went; run again without ``--overwrite``, every image is
    refused because its crops exist."""
    detect = ["detect", str(photos), "--conf", "0.2", "--threads", "1", "--format", "jsonl"]
    local = run_optik(*detect, "--crops", f"{tmp_path}/local/crops", "--labels-out", f"{tmp_path}/local/yolo")
    items = discover([str(photos)])
    crops = OutputPlan.create(f"{tmp_path.as_uri()}/ray/crops/", items)
    labels = YoloLabels(f"{tmp_path}/ray/yolo", items, get_spec("nanodet", "detect").categories())
    settings = DetectSettings(conf=0.2)

    def on_ray() -> dict[str, dict]:
        rows = optik_ray.run(
            "detect", settings, items, model="nanodet", stage=OutputStage(None, crops=crops, labels=labels)
        )
        return {row.path: row.record for row in rows}

    records = on_ray()
    crop_root = f"{tmp_path.as_uri()}/ray/crops/"
    assert image_files(tmp_path / "ray") == image_files(tmp_path / "local")
    assert len([name for name in image_files(tmp_path / "local") if name.startswith("crops/")]) >= 3
    for record in jsonl(local.stdout):
        theirs = json.loads(
            json.dumps(comparable(records[record["path"]])).replace(crop_root, f"{tmp_path}/local/crops/")
        )
        assert theirs == comparable(record)
    again = on_ray()
    assert all("exists (use --overwrite" in again[path]["error"] for path in records if "broken" not in path), again


def test_datasets_from_read_binary_files_and_read_images_become_records(local_ray, photos):
    settings = ClassifySettings(top_k=3)
    local = run_optik("classify", str(photos), "--top-k", "3", "--format", "jsonl", "--threads", "1")
    expected = {record["path"]: comparable(record) for record in jsonl(local.stdout)}

    encoded = ray.data.read_binary_files(str(photos), include_paths=True)
    decoded = ray.data.read_images(
        [str(photos / name) for name in ("coffee.png", "chelsea.png", "astronaut.png")], include_paths=True
    )
    both = optik_ray.records(encoded, "classify", settings, num_cpus=0.5).union(
        optik_ray.records(decoded, "classify", settings, num_cpus=0.5)  # a CPU left for the reading
    )
    rows = [optik_ray.RecordRow.of(row) for row in both.take_all()]
    # read_binary_files: decoded by optik, as locally (the broken file's error too); read_images: decoded by
    # Ray, which fails on the broken file itself, so it was left out; PNGs decode to the same pixels
    assert sorted(row.path for row in rows) == sorted([*expected, *(path for path in expected if "broken" not in path)])
    assert all(comparable(row.record) == expected[row.path] for row in rows)


def test_engine_ray_on_the_command_line_gives_the_local_records_summary_and_exit_code(local_ray, photos, tmp_path):
    """``--engine ray``: the records on stdout (any order), the failures and failed checks on stderr, the
    local summary line and exit code, a COCO document gathered from the records; images to a file:// URI,
    the records to ``--records`` parts."""
    flags = ["--conf", "0.3", "--expect", "cat", "--format", "jsonl", "--threads", "1"]
    local = run_optik("detect", str(photos), *flags, "--labels-out", f"{tmp_path}/local.json")
    on_ray = run_optik("detect", str(photos), *flags, "--labels-out", f"{tmp_path}/ray.json", "--engine", "ray")
    assert (on_ray.returncode, local.returncode) == (3, 3), on_ray.stderr  # the broken input beats the checks
    assert (tmp_path / "ray.json").read_text() == (tmp_path / "local.json").read_text()
    assert json.loads((tmp_path / "ray.json").read_text())["annotations"]
    assert sorted(map(comparable, jsonl(on_ray.stdout)), key=str) == sorted(
        map(comparable, jsonl(local.stdout)), key=str
    )
    for told in ("broken.png: ", "check failed: ", "3 processed, 1 failed, 0 skipped"):
        assert told in on_ray.stderr and told in local.stderr

    target = f"{tmp_path.as_uri()}/levelled/"
    enhance = ["enhance", str(photos), "-m", "none", "--auto-levels", "--threads", "1"]
    written = run_optik(*enhance, "-o", target, "--engine", "ray", "--records", str(tmp_path / "records"))
    assert written.returncode == 3 and not written.stdout, written.stderr
    run_optik(*enhance, "-o", f"{tmp_path}/local/")
    assert (
        image_files(tmp_path / "levelled") == image_files(tmp_path / "local")
        and len(image_files(tmp_path / "local")) == 3
    )
    parts = [json.loads(line) for part in (tmp_path / "records").iterdir() for line in part.read_text().splitlines()]
    assert sorted(record["path"] for record in parts) == sorted(str(path) for path in photos.iterdir())


def test_faces_identify_on_ray_from_the_command_line_gives_the_local_records(local_ray, photos, tmp_path):
    """A later command with ``--engine ray``: the enrolled gallery travels to the actors with the settings."""
    enrolled = run_optik("faces", "enroll", str(EXAMPLES / "astronaut.png"), "--name", "eileen", "-o", f"{tmp_path}/db")
    assert enrolled.returncode == 0, enrolled.stderr
    identify = [
        "faces",
        "identify",
        str(EXAMPLES / "astronaut.png"),
        str(photos / "coffee.png"),
        "--db",
        f"{tmp_path}/db",
    ]
    flags = ["--expect-person", "eileen", "--format", "jsonl", "--threads", "1"]
    local, on_ray = run_optik(*identify, *flags), run_optik(*identify, *flags, "--engine", "ray")
    assert (on_ray.returncode, local.returncode) == (1, 1), on_ray.stderr  # no face in the coffee
    assert sorted(map(comparable, jsonl(on_ray.stdout)), key=str) == sorted(
        map(comparable, jsonl(local.stdout)), key=str
    )
    assert any(face["name"] == "eileen" for record in jsonl(on_ray.stdout) for face in record.get("faces", []))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["classify", "s3://bucket/photos/"], "URIs are read by --engine ray"),
        (["classify", "{photos}", "--records", "parts/"], "belong to --engine ray"),
        (["classify", "{photos}", "--engine", "ray", "--format", "parquet"], "--format parquet writes parts below"),
        (["classify", "{photos}", "--engine", "ray", "--records", "p/", "--format", "csv"], "jsonl or parquet parts"),
        (["detect", "{photos}", "--crops", "s3://bucket/crops/"], "URIs are written by --engine ray"),
        (
            ["detect", "{photos}", "--labels-out", "gs://b/labels.json", "--engine", "ray"],
            "COCO document is written here",
        ),
        (["detect", "{photos}", "--labels-out", "l.json", "--engine", "ray", "--records", "r/"], "leave out --records"),
        (["embed", "{photos}", "-o", "index/", "--engine", "ray"], "builds one index here"),
    ],
)
def test_engine_options_that_cannot_work_are_usage_errors(photos, arguments, message):
    result = run_optik(*(argument.format(photos=photos) for argument in arguments))
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_importing_optik_does_not_import_ray():
    code = "import sys, optik, optik.api, optik.cli; assert 'ray' not in sys.modules, 'ray imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
