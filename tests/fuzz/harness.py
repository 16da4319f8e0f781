"""Every command over the fuzz corpus, as a user runs it, watched: one record per input, no traceback, no
hang (a time limit), bounded memory (the process's peak RSS), inputs unchanged, outputs only below ``-o``,
nothing partial left behind.

    python -m tests.fuzz.harness [--quick]     # the table per command (make fuzz); --quick: the test subset

Modes: ``folder`` (the corpus directory, ``-r``), ``list`` (every corpus file named in a NUL-separated
``--files-from`` list, special files included) and ``single`` (a sample of the inputs, one process each).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.corpus import Case, make_corpus

ROOT = Path(__file__).resolve().parents[2]
#: Command variants: the name, then the arguments after the inputs (``{out}`` is the output directory).
COMMANDS: dict[str, list[str]] = {
    "classify": ["classify"],
    "detect": ["detect", "-o", "{out}/", "--crops", "{out}/crops", "--labels-out", "{out}/labels"],
    "segment": ["segment", "-m", "selfie", "-o", "{out}/"],
    "enhance": ["enhance", "-m", "none", "--scale", "0.5", "--sharpen", "-o", "{out}/"],
    "enhance-net": ["enhance", "-m", "realesr-animevideov3", "--scale", "1", "-o", "{out}/"],
    "style": ["style", "--style", "pencil", "--size", "64", "-o", "{out}/"],
}
QUICK = ("classify", "enhance")
TIME_LIMIT = 900  # seconds for one command over the whole corpus
PEAK_RSS_LIMIT_MB = 2500  # torch, a model and a few decoded images; a decoded bomb would be far more
SINGLE_SAMPLE = 12  # inputs run one process each in ``single`` mode


@dataclass
class Finding:
    """What one command did with the corpus in one mode."""

    command: str
    mode: str
    inputs: int
    records: int = 0
    tracebacks: int = 0
    hangs: int = 0
    peak_rss_mb: float = 0.0
    inputs_modified: int = 0
    outside_output: int = 0
    partial_outputs: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        counts = (self.tracebacks, self.hangs, self.inputs_modified, self.outside_output, self.partial_outputs)
        return not any(counts) and not self.wrong and self.peak_rss_mb < PEAK_RSS_LIMIT_MB

    def row(self) -> str:
        return (
            f"| {self.command} | {self.mode} | {self.inputs} | {self.records} | {self.tracebacks} | {self.hangs} | "
            f"{self.peak_rss_mb:.0f} | {self.inputs_modified} | {self.outside_output} | {self.partial_outputs} |"
        )


HEADER = (
    "| command | mode | inputs | records | tracebacks | hangs | peak RSS MB | inputs modified | outside -o "
    "| partial |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)


def snapshot(directory: Path) -> dict[str, str]:
    """Every entry below ``directory``: a hash of regular files, the file type of others (never opened)."""
    entries = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            mode = os.lstat(path).st_mode
            entries[path] = hashlib.sha256(Path(path).read_bytes()).hexdigest() if stat.S_ISREG(mode) else oct(mode)
    return entries


def _run(arguments: list[str], timeout: float) -> tuple[int | None, bytes, str, float]:
    """Run optik; return (exit code or None on a hang, stdout, stderr, peak RSS in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "optik", *arguments],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                process.kill()
                _, _, usage = os.wait4(process.pid, 0)
                code = None
                break
            time.sleep(0.05)
        process.returncode = -1 if code is None else code  # reaped here: Popen must not wait again
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read().decode(errors="replace"), usage.ru_maxrss / 1024


def _check_records(finding: Finding, stdout: bytes, expected: dict[str, str]) -> None:
    lines = stdout.decode("utf-8", "surrogateescape").splitlines()  # names that are not UTF-8 pass through
    records = [json.loads(line) for line in lines if line.strip()]
    finding.records += len(records)
    seen = [record["path"] for record in records]
    if sorted(seen) != sorted(expected):
        missing, extra = set(expected) - set(seen), set(seen) - set(expected)
        finding.wrong.append(f"records: {len(missing)} inputs without one, {len(extra)} unexpected")
    for record in records:
        outcome = "error" if "error" in record else "ok"
        want = expected.get(record["path"], "any")
        if want != "any" and outcome != want:
            finding.wrong.append(f"{record['path']!r}: {outcome}, expected {want}: {record.get('error', '')}")


def run_command(command: str, mode: str, cases: list[Case], corpus: Path, work: Path) -> Finding:
    """One command over the corpus in one mode, watched."""
    out = work / f"{command}-{mode}"
    arguments = [argument.replace("{out}", str(out)) for argument in COMMANDS[command][1:]]
    before_corpus, before_work = snapshot(corpus), set(snapshot(work))
    if mode == "folder":
        walked = [case for case in cases if case.expected != "skip"]
        finding = Finding(command, mode, len(walked))
        runs = [([str(corpus), "-r"], {str(case.path): case.expected for case in walked})]
    elif mode == "list":
        listing = work / f"{command}.list"
        listing.write_bytes(b"".join(os.fsencode(case.path) + b"\0" for case in cases))
        finding = Finding(command, mode, len(cases))
        runs = [(["--files-from", str(listing), "-0"], {str(case.path): case.named for case in cases})]
    else:
        sample = [case for case in cases if not case.special][:: max(1, len(cases) // SINGLE_SAMPLE)]
        finding = Finding(command, mode, len(sample))
        runs = [([str(case.path)], {str(case.path): case.named}) for case in sample]
    for inputs, expected in runs:
        code, stdout, stderr, rss = _run([COMMANDS[command][0], *inputs, *arguments, "--format", "jsonl"], TIME_LIMIT)
        finding.peak_rss_mb = max(finding.peak_rss_mb, rss)
        if code is None:
            finding.hangs += 1
            continue
        finding.tracebacks += stderr.count("Traceback")
        if code not in (0, 2, 3):
            finding.wrong.append(f"exit {code}: {stderr[-300:]}")
        _check_records(finding, stdout, expected if code != 2 else {})
    after = snapshot(work)
    finding.inputs_modified = sum(before_corpus[path] != digest for path, digest in snapshot(corpus).items())
    new = set(after) - before_work
    finding.outside_output = sum(1 for path in new if not path.startswith(str(out)) and not path.endswith(".list"))
    finding.partial_outputs = sum(1 for path in new if path.endswith(".part"))
    return finding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the subset make test runs")
    args = parser.parse_args()
    commands = QUICK if args.quick else tuple(COMMANDS)
    modes = ("folder",) if args.quick else ("folder", "list", "single")
    with tempfile.TemporaryDirectory() as tmp:
        corpus, work = Path(tmp) / "corpus", Path(tmp) / "work"
        work.mkdir()
        cases = make_corpus(corpus)
        findings = [run_command(command, mode, cases, corpus, work) for command in commands for mode in modes]
    print(f"{len(cases)} corpus inputs\n\n{HEADER}")
    for finding in findings:
        print(finding.row())
    problems = [f"{f.command}/{f.mode}: {w}" for f in findings for w in f.wrong[:10]]
    print("\n".join(problems) if problems else "\nevery command: one record per input, nothing wrong")
    sys.exit(0 if all(f.clean for f in findings) else 1)


if __name__ == "__main__":
    main()
