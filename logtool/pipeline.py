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
from typing import Any, BinaryIO, TypeVar

import polars as pl

#: The polars engine for lazy queries on batches. Ingest and ``anonymize`` already run two batches
#: at once on worker threads (:func:`ordered_map`); the in-memory engine computes on the calling
#: thread, where the streaming engine (polars' default since 2.0) would hand each query to its
#: own threads and add their overhead (about a third more CPU for the parse regex).
ENGINE = "in-memory"

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
    return in_order(lambda item: (item, fn(item)), items, workers, ahead)


def in_order(fn: Callable[[T], R], items: Iterator[T], workers: int = 2, ahead: int = 1) -> Iterator[R]:
    """``fn(item)`` in input order, computed on ``workers`` threads at most ``ahead`` items
    ahead of the consumer; an item is not kept once ``fn`` has it (its memory goes with it)."""
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="logtool-worker") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                del item
                if len(pending) > ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for fut in pending:
                fut.cancel()


def in_background(fn: Callable[..., R], *args: Any) -> Future[R]:
    """``fn(*args)`` on a thread of its own (work that releases the GIL, such as hashing a file,
    next to the pipeline); its result or error comes from the future."""
    fut: Future[R] = Future()

    def run() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as e:  # handed to whoever asks for the result
            fut.set_exception(e)

    threading.Thread(target=run, name="logtool-background", daemon=True).start()
    return fut


class ReadAhead:
    """A stream read ahead by a thread of its own, one block at a time (a decompressing stream:
    inflating, and hashing what comes out, then overlap the splitting and parsing that follow;
    zlib, ISA-L, bz2, lzma and zstd release the GIL). ``read`` returns the next block whatever
    size is asked."""

    def __init__(self, stream: BinaryIO, size: int, hasher: Any = None) -> None:
        def blocks() -> Iterator[bytes]:
            while block := stream.read(size):
                if hasher is not None:
                    hasher.update(block)
                yield block

        self._stream, self._blocks = stream, prefetch(blocks())

    def read(self, size: int = -1) -> bytes:
        return next(self._blocks, b"")

    def close(self) -> None:
        self._blocks.close()  # type: ignore[attr-defined]
        self._stream.close()


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


def join_back(keys: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """The rows of ``table`` matching each row of ``keys`` (its key columns), in the order of
    ``keys``; null keys match a null key. Only the key columns take part in the join: joining
    a wide frame would gather every one of its columns again."""
    on = keys.columns
    return keys.join(table, on=on, how="left", nulls_equal=True, maintain_order="left").drop(on)


def per_distinct(df: pl.DataFrame, key: str, derive: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """``derive`` run once per distinct value of ``df[key]`` (a frame with that one column, to
    which it adds columns), joined back: the added columns, one row per row of ``df``."""
    keys = df.select(key)
    return join_back(keys, derive(keys.unique()))


class LookupCache:
    """Columns derived from one key column, computed for new distinct keys only."""

    def __init__(self, key: str, compute: Callable[[pl.Series], pl.DataFrame], max_rows: int = 1_000_000) -> None:
        self.key, self.compute, self.max_rows = key, compute, max_rows
        self.table: pl.DataFrame | None = None

    def update(self, keys: pl.Series) -> pl.DataFrame:
        """The table, after computing the rows of the distinct non-null ``keys`` it lacks."""
        keys = keys.drop_nulls().unique()
        table = self.table  # one read: threads sharing the cache each get a table holding their keys
        if table is None or table.height + keys.len() > self.max_rows:
            table = self.compute(keys)  # (re)start: memory stays bounded
        else:
            new = keys.filter(~keys.is_in(table.get_column(self.key).implode()))
            if new.len():  # one chunk: joins against a table of many chunks copy it every time
                table = pl.concat([table, self.compute(new)], rechunk=True)
        self.table = table  # a concurrent update may be lost: it is recomputed when needed
        return table

    def join(self, df: pl.DataFrame) -> pl.DataFrame:
        """``df`` with the derived columns of its key column added."""
        table = self.update(df.get_column(self.key))
        return df.with_columns(join_back(df.select(self.key), table).get_columns())
