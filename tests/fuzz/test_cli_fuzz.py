"""The fast subset of the fuzz harness (the whole: `make fuzz`): classify and enhance over the corpus folder."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.corpus import make_corpus
from tests.fuzz.harness import HEADER, QUICK, run_command


def test_commands_over_the_corpus_give_one_record_per_input_and_nothing_else(tmp_path: Path) -> None:
    corpus, work = tmp_path / "corpus", tmp_path / "work"
    work.mkdir()
    cases = make_corpus(corpus)
    findings = [run_command(command, "folder", cases, corpus, work) for command in QUICK]
    print("\n" + HEADER + "\n" + "\n".join(finding.row() for finding in findings))
    for finding in findings:
        assert finding.records == finding.inputs, finding.wrong[:5]
        assert finding.clean, (finding.row(), finding.wrong[:10])
