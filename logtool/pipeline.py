"""Small concurrency helpers for the ingest pipeline: overlap reading, parsing and writing.

Reading (decompression, hashing), Parquet writing and polars all release the GIL, so a
reader thread and a writer thread let the two cores work while the main thread parses.
Queues are one item deep, so at most three batches are in memory at once.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

import polars as pl

T = TypeVar("T")
R = TypeVar("R")
_DONE = object()


def prefetch(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Iterate ``source`` in a background thread, ``depth`` items ahead; errors re-raise here."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def run() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_DONE)
        except BaseException as e:  # handed to the consumer
            q.put(e)

    t = threading.Thread(target=run, name="logtool-reader", daemon=True)
    t.start()
    done = False
    try:
        while True:
            try:  # a timeout: a signal (Ctrl-C) that another thread received is handled here
                item = q.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _DONE:
                done = True
                return
            if isinstance(item, BaseException):
                done = True
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        # At the end the reader has finished. Stopped early (an error, Ctrl-C), it may be blocked
        # reading a pipe that nothing will ever write to: it is a daemon thread, left to stop by
        # itself (at its next item) or with the process, instead of a join that never returns.
        t.join(timeout=None if done else 0.2)


def ordered_map(fn: Callable[[T], R], items: Iterator[T], workers: int = 2, ahead: int = 2) -> Iterator[tuple[T, R]]:
    """``(item, fn(item))`` in input order, with ``fn`` running on ``workers`` threads at most
    ``ahead`` items ahead of the consumer (memory stays bounded). For work that releases the
    GIL (polars), this keeps both cores busy where one thread would leave gaps."""
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="logtool-worker") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(fn, item)))
                if len(pending) > ahead:
                    first, fut = pending.popleft()
                    yield first, fut.result()
            while pending:
                first, fut = pending.popleft()
                yield first, fut.result()
        finally:
            for _, fut in pending:
                fut.cancel()


class BackgroundWriter:
    """Run write calls one at a time in a worker thread; at most one call is pending."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logtool-writer")
        self._pending: Future[None] | None = None

    def submit(self, fn: Callable[..., None], *args: object) -> None:
        self.wait()
        self._pending = self._pool.submit(fn, *args)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)


def tune_allocator() -> None:
    """Keep glibc from unmapping and re-faulting the large per-batch buffers on every batch.

    Python's large ``bytes`` (16–32 MiB reads, encoded output) go through ``malloc``; above the
    mmap threshold each one is a fresh ``mmap`` whose pages fault in again, which showed up as
    ~1 s of system time per million lines. Raising the thresholds makes freed buffers reusable.
    Process-wide, so only the CLI entry point calls it; a no-op where glibc is absent.
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 512 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


class LookupCache:
    """Columns derived from one key column, computed for new distinct keys only."""

    def __init__(self, key: str, compute: Callable[[pl.Series], pl.DataFrame], max_rows: int = 1_000_000) -> None:
        self.key, self.compute, self.max_rows = key, compute, max_rows
        self.table: pl.DataFrame | None = None

    def join(self, df: pl.DataFrame) -> pl.DataFrame:
        keys = df.get_column(self.key).drop_nulls().unique()
        table = self.table  # one read: threads sharing the cache each join a table holding their keys
        if table is None or table.height + keys.len() > self.max_rows:
            table = self.compute(keys)  # (re)start: memory stays bounded
        else:
            new = keys.filter(~keys.is_in(table.get_column(self.key).implode()))
            if new.len():
                table = pl.concat([table, self.compute(new)])
        self.table = table  # a concurrent update may be lost: it is recomputed when needed
        return df.join(table, on=self.key, how="left", maintain_order="left")
