"""Reads and decodes every input of a fuzz corpus in this process, one JSON line per input on stdout.

    python -m tests.fuzz.decode_runner CORPUS_DIR PATH_LIST

First a recursive walk of CORPUS_DIR (``discover``), then every path of PATH_LIST (NUL-separated) by name;
each input goes through ``InputItem.read`` and ``decode``. A line says the outcome: "ok", "error" (an
``InputError``), "crash" (any other exception) or "hang" (over ``TIMEOUT_S``). A watchdog thread ends the
process with exit status 70 when its resident memory passes ``RSS_LIMIT_MB``; the last line holds the
peak RSS. Meant to run as a subprocess, so that the caller's own memory does not count.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import threading
import time

from optik.errors import InputError
from optik.io.inputs import InputItem, discover, read_path_list
from optik.preprocess.decode import decode

TIMEOUT_S = 10
RSS_LIMIT_MB = 3000
WATCHDOG_EXIT = 70


def _watch_memory() -> None:
    page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
    while True:
        with open("/proc/self/statm") as statm:
            resident_mb = int(statm.read().split()[1]) * page_mb
        if resident_mb > RSS_LIMIT_MB:
            print(json.dumps({"watchdog_rss_mb": resident_mb}), flush=True)
            os._exit(WATCHDOG_EXIT)
        time.sleep(0.01)


def _on_alarm(signum: int, frame: object) -> None:
    raise TimeoutError


def _outcome(item: InputItem) -> tuple[str, str]:
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT_S)
    try:
        image = decode(item.read(), item.source)
        return "ok", f"{image.width}×{image.height}"
    except InputError as exc:
        return "error", str(exc)
    except TimeoutError:
        return "hang", ""
    except Exception as exc:
        return "crash", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _report(mode: str, item: InputItem) -> None:
    start = time.perf_counter()
    outcome, message = _outcome(item)
    seconds = round(time.perf_counter() - start, 3)
    print(json.dumps({"mode": mode, "path": item.source, "outcome": outcome, "message": message, "seconds": seconds}))


def main(corpus: str, path_list: str) -> None:
    threading.Thread(target=_watch_memory, daemon=True).start()
    signal.signal(signal.SIGALRM, _on_alarm)
    walked = discover([corpus], recursive=True)
    print(json.dumps({"walk": [item.source for item in walked], "special_files": walked.special_files}))
    for item in walked:
        _report("walk", item)
    with open(path_list, "rb") as stream:
        for path in read_path_list(stream, nul=True):
            _report("named", discover([path])[0])
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main(*sys.argv[1:])
