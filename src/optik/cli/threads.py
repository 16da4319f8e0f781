"""How many threads a run uses: torch's intra-op pool plus the decode workers never exceed the CPUs this
process may use (its affinity, the cgroup's CPU quota, ``OMP_NUM_THREADS``), so nothing oversubscribes on a
small or busy machine. ``bench/threads.py`` measures the choice against every split."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path


def available_cpus() -> tuple[int, str]:
    """The CPUs this process may use, and where that number comes from."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    why = f"{cpus} in the CPU affinity"
    quota = _cgroup_quota()
    if quota is not None and quota < cpus:
        cpus, why = quota, f"the cgroup's CPU quota of {quota}"
    return max(1, cpus), why


def _cgroup_quota() -> int | None:
    """CPUs allowed by cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``, rounded up; None when unlimited."""
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.exists():
            quota, period = v2.read_text().split()[:2]
            return None if quota == "max" else math.ceil(int(quota) / int(period))
        v1 = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        if v1.exists():
            quota = int(v1.read_text())
            period = int(Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us").read_text())
            return None if quota <= 0 else math.ceil(quota / period)
    except (OSError, ValueError):
        return None
    return None


@dataclass(frozen=True)
class ThreadPlan:
    """torch's intra-op threads and the pipeline's decode/prepare workers, and why."""

    torch: int
    workers: int
    reason: str

    def describe(self) -> str:
        return f"{self.torch} torch thread(s) + {self.workers} decode worker(s) ({self.reason})"


def plan_threads(asked: int | None = None, image_by_image: bool = False) -> ThreadPlan:
    """``--threads N`` fixes torch's count; otherwise one decode worker per four CPUs (1 to 4) and torch gets
    the rest, at most ``OMP_NUM_THREADS``. A task that runs ``image_by_image`` (a forward of seconds, as
    Real-ESRGAN's or ISNet's on a CPU) leaves the workers idle most of the time, so torch gets every CPU
    (x4plus-anime on a 600×400 photo, 2 CPUs: 20 s instead of 29; ISNet cut-outs 2.3 s an image instead of 3.0)."""
    cpus, why = available_cpus()
    workers = min(4, max(1, cpus // 4))
    if asked:
        return ThreadPlan(asked, workers, f"--threads {asked}; {why}")
    torch_threads = cpus if image_by_image else max(1, cpus - workers)
    if image_by_image:
        why = f"{why}; one image at a time, so torch shares the workers' CPUs"
    omp = os.environ.get("OMP_NUM_THREADS", "")
    if omp.isdigit() and 0 < int(omp) < torch_threads:
        torch_threads, why = int(omp), f"OMP_NUM_THREADS={omp}; {why}"
    return ThreadPlan(torch_threads, workers, why)
