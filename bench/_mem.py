"""Memory of a process tree, sampled (Linux /proc): the benchmarks' one way to measure it.

``getrusage(RUSAGE_CHILDREN)`` is not used for workers: a child started by fork/vfork and
exec reports the parent's resident size at the exec as its own peak."""

from __future__ import annotations

import os
import threading


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages shared between processes (the font files every layout
    worker maps, the interpreter's libraries) counted once in total, not once a process."""
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("Pss:"))


def _children(pid: int) -> list[int]:
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            out.extend(int(c) for c in fh.read().split())
    return out


class TreeSampler(threading.Thread):
    """Every 50 ms: the resident memory of this process and of each descendant. Keeps the
    peak of the sum (``peak``), this process's peak (``main``) and the peak of the workers
    alone, summed (``workers``) and the largest one (``largest_worker``), in MiB; and the
    peak of the summed proportional set sizes (``pss``, shared pages counted once)."""

    def __init__(self, every: float = 0.05):
        super().__init__(daemon=True)
        self.every = every
        self.peak = self.main = self.workers = self.largest_worker = self.pss = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self.done.wait(self.every):
            own, others, todo = 0, [], list(_children(me))
            try:
                own, pss = _rss_kib(me), _pss_kib(me)
            except OSError:
                continue
            while todo:
                pid = todo.pop()
                try:
                    others.append(_rss_kib(pid))
                    pss += _pss_kib(pid)
                    todo.extend(_children(pid))
                except (OSError, StopIteration):
                    continue
            mib = 1024
            self.main = max(self.main, own / mib)
            self.workers = max(self.workers, sum(others) / mib)
            self.largest_worker = max(self.largest_worker, max(others, default=0) / mib)
            self.peak = max(self.peak, (own + sum(others)) / mib)
            self.pss = max(self.pss, pss / mib)

    def __enter__(self) -> TreeSampler:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.done.set()
        self.join()

    def line(self) -> str:
        return (f"peak RSS: all processes {self.peak:.0f} MiB (this process {self.main:.0f}, "
                f"layout workers summed {self.workers:.0f}, largest worker "
                f"{self.largest_worker:.0f}); proportional (shared pages once) "
                f"{self.pss:.0f} MiB")
