"""The fast fuzz subset: the whole corpus through discover + InputItem.read + decode, in a watched subprocess.

Every input must be decoded or refused with a one-line InputError, in bounded time and memory, with
nothing on stderr; bombs and truncated files are refused, good images decoded, special files skipped
and counted in walks, and no corpus file is changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from optik.io.inputs import discover
from tests.fuzz.corpus import Case, make_corpus

ROOT = Path(__file__).resolve().parents[2]
PEAK_RSS_LIMIT_MB = 1500  # the runner imports torch (~0.55 GB); a 20000² bomb decoded would pass 1.2 GB more
SECONDS_PER_INPUT = 10


def _snapshot(directory: Path) -> dict[str, tuple[int, str]]:
    """Every entry below ``directory``: its file type, and a hash of regular files (special files are not opened)."""
    entries = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if stat.S_ISREG(mode) else ""
            entries[path] = (stat.S_IFMT(mode), digest)
    return entries


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case]]:
    directory = tmp_path_factory.mktemp("fuzz") / "corpus"
    return directory, make_corpus(directory)


def test_corpus_is_large_varied_and_deterministic(corpus, tmp_path):
    directory, cases = corpus
    assert len(cases) >= 300
    kinds = Counter(case.kind.split("/")[0] for case in cases)
    for kind in ("good", "truncated", "empty", "random", "corrupt-middle", "bomb", "samples", "names", "special"):
        assert kinds[kind] > 0, kind
    assert sum(case.path.stat().st_size for case in cases if case.kind == "bomb/zlib") < 40 << 20
    again = make_corpus(tmp_path / "again")
    assert [case.path.relative_to(tmp_path / "again") for case in again] == [
        case.path.relative_to(directory) for case in cases
    ]
    first, second = _snapshot(directory), _snapshot(tmp_path / "again")
    assert sorted(first.values()) == sorted(second.values())


def test_files_from_with_nul_lists_every_odd_name(corpus, tmp_path):
    _, cases = corpus
    listing = tmp_path / "list"
    listing.write_bytes(b"".join(os.fsencode(case.path) + b"\0" for case in cases))
    items = discover([], files_from=str(listing), files_from_nul=True)
    assert [item.source for item in items] == [str(case.path) for case in cases]


def test_every_input_is_decoded_or_refused_in_bounded_time_and_memory(corpus, tmp_path):
    directory, cases = corpus
    before = _snapshot(directory)
    listing = tmp_path / "list"
    listing.write_bytes(b"".join(os.fsencode(case.path) + b"\0" for case in cases))
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.decode_runner", str(directory), str(listing)],
        cwd=ROOT,
        capture_output=True,
        timeout=240,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert run.returncode == 0, run.stdout.decode()[-2000:] + run.stderr.decode()[-2000:]
    assert run.stderr == b"", "library noise or warnings on stderr:\n" + run.stderr.decode(errors="replace")[:3000]
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    walk, results, peak = lines[0], lines[1:-1], lines[-1]["peak_rss_mb"]
    print(f"\n{len(cases)} inputs, {len(results)} reads, peak RSS {peak:.0f} MB")

    by_path = {str(case.path): case for case in cases}
    walked_cases = [case for case in cases if case.expected != "skip"]
    assert sorted(walk["walk"]) == sorted(str(case.path) for case in walked_cases)
    assert sorted(walk["special_files"]) == sorted(str(case.path) for case in cases if case.special)
    assert len(results) == len(walked_cases) + len(cases)

    wrong = []
    for result in results:
        case = by_path[result["path"]]
        expected = case.expected if result["mode"] == "walk" else case.named
        outcome, message = result["outcome"], result["message"]
        if outcome not in ("ok", "error") or (expected != "any" and outcome != expected):
            wrong.append(f"{result['mode']} {case.kind} {case.path.name!r}: {outcome}, expected {expected}: {message}")
        elif "\n" in message.replace(result["path"], "") or "OpenCV(" in message or "error: (-" in message:
            wrong.append(f"{case.kind} {case.path.name!r}: not a one-line reason of optik's own: {message!r}")
        elif result["seconds"] > SECONDS_PER_INPUT:
            wrong.append(f"{case.kind} {case.path.name!r}: {result['seconds']} s")
    assert not wrong, "\n".join(wrong)
    assert peak < PEAK_RSS_LIMIT_MB
    assert _snapshot(directory) == before
