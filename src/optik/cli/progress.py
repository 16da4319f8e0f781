"""The live progress line on stderr (tqdm), drawn only when stderr is a terminal.

One line shows what optik is doing from the first second — ``loading isnet…`` while the model loads,
then done/total, rate, elapsed, ETA and the current file (or tile) — and everything else that goes to
the terminal (records on stdout, errors and log lines on stderr) is printed *above* it, never glued
onto it. A ticker keeps the elapsed time moving while one long image (a tiled enhance) is worked on.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

BAR = "{percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"


class Progress:
    """The progress line for one run. Disabled (every method a no-op) unless ``enabled`` and stderr is a TTY."""

    TICK = 0.5  # seconds between redraws while nothing finishes

    def __init__(self, enabled: bool):
        self.enabled = enabled and sys.stderr.isatty()
        self._bar = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        if self.enabled:
            from tqdm import tqdm

            self._bar = tqdm(
                total=None,
                file=sys.stderr,
                unit="img",
                dynamic_ncols=True,
                leave=False,
                colour=None if "NO_COLOR" in os.environ else "cyan",
                bar_format="{desc}",
                desc="optik: starting…",
            )
            threading.Thread(target=self._tick, name="optik-progress", daemon=True).start()

    def _tick(self) -> None:
        while not self._stop.wait(self.TICK):
            with self._lock:
                if self._bar is not None:
                    self._bar.refresh()

    def status(self, text: str) -> None:
        """What optik is doing before the inputs flow (``loading isnet…``)."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_description_str(f"optik: {text}", refresh=True)

    def start(self, total: int) -> None:
        """The inputs start flowing: a bar with done/total, rate, elapsed and ETA."""
        if self._bar is not None:
            with self._lock:
                self._bar.reset(total=total)
                self._bar.bar_format = (
                    "{desc}{percentage:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}, {rate_fmt}] {postfix}"
                )
                self._bar.set_description_str("", refresh=False)
                self._bar.refresh()

    def advance(self, name: str) -> None:
        """One input is done; ``name`` is shown as the current file."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix_str(os.path.basename(name), refresh=False)
                self._bar.update(1)

    def note(self, text: str) -> None:
        """A finer step within the current input (``tile 12/70``); safe from worker threads."""
        if self._bar is not None:
            with self._lock:
                self._bar.set_postfix_str(text, refresh=False)

    def stream(self, stream: TextIO) -> TextIO:
        """``stream`` (stdout for records, stderr for messages), written above the progress line."""
        return _AboveTheBar(stream, self) if self._bar is not None else stream

    def write(self, text: str, stream: TextIO) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.clear()
            stream.write(text)
            stream.flush()
            if self._bar is not None:
                self._bar.refresh()

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


class _AboveTheBar:
    """A text stream whose writes clear the progress line first and redraw it after."""

    def __init__(self, stream: TextIO, progress: Progress):
        self._stream, self._progress = stream, progress

    def write(self, text: str) -> int:
        self._progress.write(text, self._stream)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return self._stream.isatty()
