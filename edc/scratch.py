"""Scratch files of long outputs (the audit PDF and its chunks): in one folder, removed on
every exit path of the request or job that made them, and swept when stale — a worker
killed mid-render (SIGKILL, a time-out) cannot clean up after itself, so the next output
removes what such a worker left behind."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STALE_SECONDS = 6 * 3600  # far longer than any render takes


def folder() -> Path:
    path = Path(tempfile.gettempdir()) / "edc-scratch"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def sweep(now: float | None = None) -> int:
    """Remove scratch files and folders older than ``STALE_SECONDS``; how many."""
    now = now if now is not None else time.time()
    removed = 0
    for entry in folder().iterdir():
        with contextlib.suppress(OSError):
            if now - entry.stat().st_mtime > STALE_SECONDS:
                if entry.is_dir():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def scratch_file(suffix: str) -> Iterator[str]:
    """A new scratch file's path, removed when the block ends however it ends."""
    sweep()
    fd, path = tempfile.mkstemp(dir=folder(), prefix=f"{os.getpid()}-", suffix=suffix)
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)
