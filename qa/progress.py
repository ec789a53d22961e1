"""Progress of long runs (indexing, `qa eval`, training): a count and an ETA, on a terminal as a
bar (tqdm) and otherwise as a line every few percent, so a log shows it too."""
from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator


def eta(done: int, total: int, elapsed: float) -> str:
    """`12m05s` left at the pace so far, or `?` before the first item (pure)."""
    if not done:
        return "?"
    left = elapsed / done * max(0, total - done)
    return f"{int(left // 3600)}h{int(left % 3600 // 60):02d}m" if left >= 3600 else f"{int(left // 60)}m{int(left % 60):02d}s"


def progress(items: Iterable, total: int, desc: str, unit: str = "q", enabled: bool = True, every: float = 0.05,
             stream=None) -> Iterator:
    """`items`, reporting as they are consumed: a tqdm bar on a terminal, else `desc: n/total (p%),
    ETA ...` lines each `every` of the way (and at the end) on stderr."""
    stream = stream or sys.stderr
    if not enabled:
        yield from items
        return
    if stream.isatty():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False, file=stream)
        return
    t0, step, next_at = time.perf_counter(), max(1, int(total * every)), 0
    for n, item in enumerate(items):
        if n >= next_at:
            print(f"{desc}: {n:,}/{total:,} {unit} ({n / max(total, 1):.0%}), ETA {eta(n, total, time.perf_counter() - t0)}",
                  file=stream, flush=True)
            next_at = n + step
        yield item
    print(f"{desc}: {total:,}/{total:,} {unit} (100%) in {time.perf_counter() - t0:.0f} s", file=stream, flush=True)
