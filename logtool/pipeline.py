"""Small concurrency helpers for the ingest pipeline: overlap reading, parsing and writing.

Reading (decompression, hashing), Parquet writing and polars all release the GIL, so a
reader thread and a writer thread let the two cores work while the main thread parses.
Queues are an item or two deep (``in_order``'s ``ahead``), so a few batches at most are in
memory at once.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, BinaryIO, TypeVar

import polars as pl

#: The polars engine for lazy queries on batches. Ingest and ``anonymize`` already run two batches
#: at once on worker threads (:func:`in_order`); the in-memory engine computes on the calling
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


#: The worker threads, kept for the life of the process: polars compiles each regex once per
#: thread (~5 ms for a signature table's), so fresh threads for every file paid ingest's ~0.15 s
#: of compiling once per file and thread.
_WORKERS: dict[int, ThreadPoolExecutor] = {}
_WORKERS_LOCK = threading.Lock()
_WORKER_PREFIX = "logtool-worker"


def workers_pool(workers: int = 2) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` threads (made on first use)."""
    with _WORKERS_LOCK:
        if workers not in _WORKERS:
            _WORKERS[workers] = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=_WORKER_PREFIX)
        return _WORKERS[workers]


def in_order(fn: Callable[[T], R], items: Iterator[T], workers: int = 2, ahead: int = 1) -> Iterator[R]:
    """``fn(item)`` in input order, computed on ``workers`` threads (:func:`workers_pool`) at
    most ``ahead`` items ahead of the consumer; an item is not kept once ``fn`` has it (its
    memory goes with it). When it ends, early or not, none of its calls is still running.
    Called from a worker thread itself, it uses threads of its own (the shared ones may all be
    waiting for it)."""
    pending: deque[Future[R]] = deque()
    # (the nested threads' names start alike: a call nested deeper gets threads of its own too)
    nested = threading.current_thread().name.startswith(_WORKER_PREFIX)
    pool = (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{_WORKER_PREFIX}-nested")
        if nested
        else workers_pool(workers)
    )
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
        wait(pending)  # the running ones: an error of theirs is not the one to report
        if nested:
            pool.shutdown()


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


def distinct(s: pl.Series, matching: str | None = None) -> pl.Series:
    """The distinct non-null values of ``s`` (those that contain a match of ``matching``), in
    one polars call (a Series' ``drop_nulls``, ``unique``, ``str.contains`` and ``filter`` are
    a call each)."""
    plan = s.to_frame().lazy().select(pl.first().drop_nulls().unique())
    if matching is not None:
        plan = plan.filter(pl.first().str.contains(matching))
    return plan.collect(engine=ENGINE).to_series()


def replace_from(s: pl.Series, values: pl.Series, replacements: pl.Series) -> pl.Series:
    """``s`` with each of the distinct ``values`` replaced by its replacement (a null one: kept
    as it is), in one polars call."""
    mapping = pl.DataFrame({"v": values, "r": replacements}).lazy()
    plan = s.to_frame("v").lazy().join(mapping, on="v", how="left", maintain_order="left")
    return plan.select(pl.coalesce("r", "v")).collect(engine=ENGINE).to_series().alias(s.name)


def compact(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with its string columns in buffers of their own. A string of a polars column can
    be a view into a buffer it shares with others (a batch's bytes, the distinct values it was
    taken from); kept in a cache, it keeps that whole buffer alive: the clients cache of
    ``anonymize`` held 16 MiB of buffers for 2 MiB of addresses after 120 batches."""
    strings = [c for c, t in df.schema.items() if t == pl.String]
    return df.with_columns(pl.col(c) + "" for c in strings) if strings else df  # concat_str copies


def join_back(keys: pl.LazyFrame, table: pl.LazyFrame, on: str) -> pl.LazyFrame:
    """The other columns of ``table`` for each row of ``keys`` (its one column ``on``, which
    ``table`` has too), in the order of ``keys``; a null key matches a null key. Only the key
    column takes part in the join: joining a wide frame would gather every one of its columns
    again."""
    return keys.join(table, on=on, how="left", nulls_equal=True, maintain_order="left").drop(on)


class LookupCache:
    """Columns derived from one key column, computed for new distinct keys only.

    :meth:`update` is one step; :func:`join_caches` adds the columns of several caches to a
    frame in three: :meth:`new_keys` (lazy, for every cache in one call), :meth:`add`
    (computes, in Python), :meth:`joined` (lazy, one plan). A polars call costs a batch
    ~0.1-0.3 ms however small its input."""

    def __init__(self, key: str, compute: Callable[[pl.Series], pl.DataFrame], max_rows: int = 1_000_000,
                 number: str | None = None) -> None:  # fmt: skip
        """``number``: also a ``UInt32`` column of this name numbering the table's rows (a key
        keeps its number while the table grows; a table that starts over numbers anew), so a
        frame joined to one table can group its rows by key with an integer."""
        self.key, self.compute, self.max_rows, self.number = key, compute, max_rows, number
        self.table: pl.DataFrame | None = None

    def new_keys(self, keys: pl.LazyFrame, table: pl.DataFrame | None) -> pl.LazyFrame:
        """The distinct non-null values of ``keys`` (one column) that ``table`` (this cache's
        :attr:`table`, read once by the caller) lacks, as a column named :attr:`key`."""
        distinct = keys.select(pl.first().drop_nulls().unique().alias(self.key))  # a column's unique: faster
        return distinct if table is None else distinct.join(table.lazy().select(self.key), on=self.key, how="anti")

    def add(self, table: pl.DataFrame | None, new: pl.Series, keys: pl.LazyFrame) -> pl.DataFrame:
        """``table`` (the one ``new`` came from) with the rows of the ``new`` keys computed; the
        cache's table from now on. When it would pass ``max_rows`` it starts over with the
        distinct ``keys`` alone: memory stays bounded."""
        if table is not None and new.len() == 0:
            return table
        if table is not None and table.height + new.len() > self.max_rows:  # start over
            table, new = None, keys.select(pl.first().drop_nulls().unique()).collect(engine=ENGINE).to_series()
        rows = compact(self.compute(new))
        if self.number is not None:
            start = 0 if table is None else table.height
            rows = rows.with_columns(pl.int_range(start, start + rows.height, dtype=pl.UInt32).alias(self.number))
        # one chunk: joins against a table of many chunks copy it every time
        out = rows if table is None else pl.concat([table, rows], rechunk=True)
        self.table = out  # a concurrent update may be lost: it is recomputed when needed
        return out

    def joined(self, keys: pl.LazyFrame, table: pl.DataFrame) -> pl.LazyFrame:
        """The derived columns for each row of ``keys`` (one column), in its order (lazily)."""
        return join_back(keys.select(pl.first().alias(self.key)), table.lazy(), self.key)

    def update(self, keys: pl.Series) -> pl.DataFrame:
        """The table, after computing the rows of the distinct non-null ``keys`` it lacks."""
        keys, table = keys.drop_nulls().unique(), self.table  # one read: each thread gets a table with its keys
        new = keys
        if table is not None:  # (a Series' own unique and one filter: faster than new_keys's plan)
            new = keys.to_frame().filter(~pl.first().is_in(table.get_column(self.key).implode())).to_series()
        return self.add(table, new, keys.to_frame().lazy())

    def join(self, df: pl.DataFrame) -> pl.DataFrame:
        """``df`` with the derived columns of its key column added."""
        return join_caches(df, (self,))


def join_caches(df: pl.DataFrame, caches: tuple[LookupCache, ...]) -> pl.DataFrame:
    """``df`` with the derived columns of each cache's key column added (replacing columns of
    those names it has), each cache's new keys computed first."""
    keys = [df.lazy().select(c.key) for c in caches]
    tables = [c.table for c in caches]  # read once: another thread may replace them
    new = pl.collect_all([c.new_keys(k, t) for c, k, t in zip(caches, keys, tables, strict=True)], engine=ENGINE)
    tables = [c.add(t, n.to_series(), k) for c, t, n, k in zip(caches, tables, new, keys, strict=True)]
    added = [c.joined(k, t) for c, k, t in zip(caches, keys, tables, strict=True)]
    names = [n for c, t in zip(caches, tables, strict=True) for n in t.columns if n != c.key]
    base = df.lazy().drop(names, strict=False)  # as with_columns would
    return pl.concat([base, *added], how="horizontal").collect(engine=ENGINE)
