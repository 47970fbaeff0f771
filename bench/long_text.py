"""The audit PDF's layout time against the length of one entry's text.

Reasons are bounded at 2000 characters now, but entries written before the bound (and long
old values) must still render: each cell is broken into short lines before layout, so the
time grows with the length, not with its square. Prints seconds per length and the ratio
of the longest to the shortest against the ratio of their lengths.
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from audit.pdf import Header, render_pdf  # noqa: E402


def row(n: int) -> dict:
    return {"seq": "1", "time_utc": "2026-11-25 10:00:00 UTC",
            "time_local": "2026-11-25 18:00:00 CST (Asia/Shanghai)", "action": "data.update",
            "user": "crc", "role": "crc", "site": "TJ", "subject": "TJ-S001",
            "event": "SCREEN", "form": "LB", "repeat": "1", "item": "HGB", "old_value": "100",
            "new_value": "101", "reason": ("transcription error " * (n // 20 + 1))[:n],
            "target": "item_data 1", "details": "", "source": "web", "request_id": "r",
            "hash": "h"}


def main() -> None:
    header = Header(study="bench", scope="one entry", generated_by="bench", generated_at="now",
                    head_hash="0" * 64, count=1, verification="not checked")
    render_pdf(iter([row(100)]), header, io.BytesIO(), workers=1)  # fonts loaded once
    lengths = (2000, 8000, 32000, 64000)
    times = []
    for n in lengths:
        started = time.perf_counter()
        render_pdf(iter([row(n)]), header, io.BytesIO(), workers=1)
        times.append(time.perf_counter() - started)
        print(f"reason of {n:>6} characters: {times[-1]:.2f} s")
    print(f"length × {lengths[-1] // lengths[0]}: time × {times[-1] / times[0]:.1f} "
          "(linear would be the same factor, quadratic its square)")


if __name__ == "__main__":
    main()
