"""The CI checks of the command line on task results: why a result fails, or None. No torch here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def _whole_word(word: str, label: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", label, re.I) is not None


def words_in_no_label(words: Sequence[str], labels: Sequence[str]) -> str | None:
    """Why some ``--expect`` words can never match (no label contains them as a whole word), with
    suggestions; None when every word is in some label."""
    import difflib

    missing = [word for word in words if not any(_whole_word(word, label) for label in labels)]
    if not missing:
        return None
    vocabulary = sorted({part for label in labels for part in re.findall(r"[\w'-]+", label.lower())} | set(labels))
    hints = [close[0] for word in missing if (close := difflib.get_close_matches(word.lower(), vocabulary, 1))]
    return f"{', '.join(map(repr, missing))} is in none of the labels" + (
        f" (did you mean {', '.join(map(repr, hints))}?)" if hints else ""
    )


def check_expectations(result: Any, expect: list[str], min_score: float | None) -> str | None:
    """Why ``result`` fails the CI checks, or None: the top-1 label must contain one of ``expect``
    as a whole word (case-insensitive) and score at least ``min_score``."""
    top = result.top
    if expect and not any(_whole_word(word, top.label) for word in expect):
        return f"top-1 is {top.label!r} ({top.score:.3f}), expected {' or '.join(expect)}"
    if min_score is not None and top.score < min_score:
        return f"top-1 {top.label!r} scores {top.score:.3f}, below --min-score {min_score:g}"
    return None


def check_counts(result: Any, expect: Sequence[str], min_count: int | None, max_count: int | None) -> str | None:
    """Why ``result`` fails the CI checks, or None: every ``expect`` label found at least once, and the
    number of detections (of the selected classes) within ``min_count`` … ``max_count``."""
    counts = result.counts()
    found = ", ".join(f"{n} {label}" for label, n in counts.most_common()) or "nothing"
    missing = [label for label in expect if not counts[label]]
    if missing:
        return f"no {' or '.join(missing)} found (found {found})"
    total = len(result.detections)
    if min_count is not None and total < min_count:
        return f"{total} detection(s) ({found}), fewer than --min-count {min_count}"
    if max_count is not None and total > max_count:
        return f"{total} detection(s) ({found}), more than --max-count {max_count}"
    return None


def check_foreground(result: Any, minimum: float | None, maximum: float | None) -> str | None:
    """Why ``result`` fails ``--min-foreground`` / ``--max-foreground``, or None."""
    if minimum is not None and result.foreground < minimum:
        return f"foreground {result.foreground:.3f} is below --min-foreground {minimum:g}"
    if maximum is not None and result.foreground > maximum:
        return f"foreground {result.foreground:.3f} is above --max-foreground {maximum:g}"
    return None
