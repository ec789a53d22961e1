"""Bounded parsing: run a parser in a separate worker process with a time and memory limit, so
one hostile file (a PDF that loops, a decompression bomb) cannot hang or exhaust the run.

One spawned worker is reused across files; if it overruns its time it is killed and replaced,
and if it dies (out of memory) the next call gets a fresh one.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import resource
from collections.abc import Callable


class ParseLimitError(Exception):
    pass


def _limit_memory(max_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))


class BoundedRunner:
    def __init__(self, timeout_s: float = 60.0, max_memory_mb: int = 2048):
        self.timeout_s = timeout_s
        self.max_bytes = max_memory_mb * 1024 * 1024
        self._pool: cf.ProcessPoolExecutor | None = None

    def _get_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_limit_memory, initargs=(self.max_bytes,),
            )
        return self._pool

    def _reset(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            for p in list(getattr(pool, "_processes", {}).values()):
                p.kill()
            pool.shutdown(wait=False, cancel_futures=True)

    def run(self, fn: Callable, *args):
        future = self._get_pool().submit(fn, *args)
        try:
            return future.result(timeout=self.timeout_s)
        except cf.TimeoutError:
            self._reset()
            raise ParseLimitError(f"parser took longer than {self.timeout_s:.0f}s; file skipped") from None
        except cf.process.BrokenProcessPool:
            self._reset()
            raise ParseLimitError(f"parser ran out of memory (limit {self.max_bytes // 2**20} MB); file skipped") from None
        except MemoryError:
            raise ParseLimitError(f"parser ran out of memory (limit {self.max_bytes // 2**20} MB); file skipped") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
