"""``logtool anonymize`` as a pipe target and a file filter.

* A regular file is read in bounded batches (throughput).
* A pipe, FIFO or terminal is read with ``os.read``: each call returns whatever the writer has
  sent so far (one line under light load, a megabyte under heavy load), and those complete lines
  are masked, written and flushed at once, so output follows input line by line without giving
  up vectorised batches under load.
* ``-o FILE`` is opened lazily in append mode and reopened on SIGHUP (log rotation: move the
  file, send SIGHUP, the next lines go to a new file). Lines are only ever written whole.
* SIGTERM, SIGINT and end of input stop reading; every line already read is written first.
"""

from __future__ import annotations

import codecs
import io
import itertools
import os
import select
import signal
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import polars as pl

from logtool import native
from logtool.anonymize.lines import LineAnonymizer
from logtool.config import Policy
from logtool.errors import InputError
from logtool.inputs import LogInput, iter_batches, sniff_text
from logtool.linesplit import LONG_LINE_PREFIX, MAX_LINE_BYTES, cut_long, long_line
from logtool.parsers import LineFormat, detect_first
from logtool.parsers.conversations import is_conversation
from logtool.pipeline import in_order

READ_SIZE = 1 << 20
#: Batch size for regular files (bounds memory like ingest does): with four batches read (two
#: masked, one waiting, one being read) a 1M-line file peaks at ~230 MiB. Each batch pays ~20
#: ms of fixed polars work, so much smaller ones cost time (8 MiB: +10 %).
FILE_BATCH_BYTES = 12 * 1024 * 1024
#: The first batch, smaller: the format is detected on it (2,000 lines) and a worker starts on
#: it while the next is read (1M lines: 1.09 -> 1.03 s, and 20 MiB less).
FIRST_BATCH_BYTES = 2 * 1024 * 1024


@dataclass
class AnonymizeResult:
    lines: int = 0
    reopened: int = 0
    stopped_by_signal: bool = False


class Output:
    """An append-only output that can be reopened (SIGHUP) and opens on first write."""

    def __init__(self, path: Path | None, stdout: BinaryIO) -> None:
        self.path, self.stdout = path, stdout
        self._f: BinaryIO | None = None

    def write(self, data: bytes | memoryview) -> None:
        if self._f is None:
            self._f = open(self.path, "ab") if self.path else self.stdout  # noqa: SIM115
        self._f.write(data)
        self._f.flush()

    def reopen(self) -> None:
        if self._f is not None and self.path is not None:
            self._f.close()
            self._f = None

    def close(self) -> None:
        if self._f is not None and self.path is not None:
            self._f.close()
        self._f = None


class Signals:
    """SIGHUP → reopen the output; SIGTERM/SIGINT → stop after the lines already read."""

    def __init__(self) -> None:
        self.reopen = False
        self.stop = False
        self._old: dict[int, object] = {}

    def __enter__(self) -> Signals:
        for sig, fn in ((signal.SIGHUP, self._hup), (signal.SIGTERM, self._term), (signal.SIGINT, self._term)):
            self._old[sig] = signal.signal(sig, fn)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]

    def _hup(self, *_: object) -> None:
        self.reopen = True

    def _term(self, *_: object) -> None:
        self.stop = True


def _encode(lines: pl.Series, final_newline: bool = True) -> bytes | memoryview:
    """Lines as bytes, one per line (a null line is an empty one): written by the compiled
    module, or joined by polars into one string whose Arrow buffer is written as it is (without
    the copies of a CSV writer; pyarrow is loaded for it)."""
    if lines.len() == 0:
        return b""
    if (data := native.join_lines(lines, None, final_newline)) is not None:
        return data
    if lines.null_count():
        lines = lines.fill_null("")
    if final_newline:  # an empty last item: the join ends with a newline
        lines = pl.concat([lines, pl.Series([""], dtype=pl.String)], rechunk=False)
    arr = lines.str.join("\n").to_arrow()  # one large string
    _, offsets, data = arr.buffers()
    start, end = memoryview(offsets).cast("q")[arr.offset : arr.offset + 2]
    return memoryview(data)[start:end]  # no copy; keeps the Arrow buffer alive until written


def masked_bytes(
    anonymizer: LineAnonymizer, lines: pl.Series, context: object, final_newline: bool = True
) -> bytes | memoryview:
    """A batch masked and encoded, as ``_encode`` of ``anonymize`` gives it. On the fast path
    (with the compiled module, no CR or NUL in the batch) the compiled module writes the
    output from the masked clients and the rest of each line, a view into the batch's bytes:
    no copy of the batch but the output itself (~90 MiB less at 1M lines, and less CPU)."""
    if anonymizer.fast_path and native.AVAILABLE and not lines.str.contains("[\r\x00]").any():
        heads, tails = anonymizer.fast.lines(lines)
        if (data := native.join_lines(heads, tails, final_newline)) is not None:
            return data
    return _encode(_unmark(anonymizer.anonymize(lines, context)), final_newline)  # type: ignore[arg-type]


def _pipe_chunks(fd: int, sig: Signals, name: str) -> Iterator[tuple[pl.Series, bool]]:
    """Complete lines as they arrive: (lines, ends_with_newline). Text with a byte-order mark
    is decoded; a line over ``MAX_LINE_BYTES`` comes out cut and marked, in bounded memory."""
    carry, skipped = b"", 0
    decoder: Callable[[bytes], bytes] | None = None
    first = True
    while not sig.stop:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(fd, READ_SIZE)
        except InterruptedError:  # pragma: no cover - PEP 475 retries, kept for safety
            continue
        if not data:
            break
        if first:
            decoder, data, first = _pipe_decoder(data, name)
        elif decoder is not None:
            data = decoder(data)
        if skipped:
            end = data.find(b"\n")
            if end < 0:
                skipped += len(data)
                continue
            yield pl.Series("line", [long_line(carry, len(carry) + skipped + end)], dtype=pl.String), True
            carry, skipped, data = b"", 0, data[end + 1 :]
        data = carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            if len(carry) > MAX_LINE_BYTES:
                skipped, carry = len(carry) - LONG_LINE_PREFIX * 4, carry[: LONG_LINE_PREFIX * 4]
            continue
        carry = data[cut + 1 :]
        text = data[:cut].decode("utf-8", "replace").replace("\x00", "\\x00")
        yield cut_long(pl.Series("line", text.split("\n"), dtype=pl.String)), True
        if len(carry) > MAX_LINE_BYTES:
            skipped, carry = len(carry) - LONG_LINE_PREFIX * 4, carry[: LONG_LINE_PREFIX * 4]
    if skipped:
        yield pl.Series("line", [long_line(carry, len(carry) + skipped)], dtype=pl.String), False
    elif carry:
        text = carry.decode("utf-8", "replace").replace("\x00", "\\x00")
        yield cut_long(pl.Series("line", [text], dtype=pl.String)), False


def _pipe_decoder(data: bytes, name: str) -> tuple[Callable[[bytes], bytes] | None, bytes, bool]:
    """From the first bytes of a pipe: a transcoder to UTF-8 (None: the text is UTF-8), the
    first bytes as UTF-8 (byte-order mark dropped)."""
    encoding, skip = sniff_text(data, name)
    if encoding is None:
        return None, data[skip:], False
    dec = codecs.getincrementaldecoder(encoding)("replace")
    return (lambda b: dec.decode(b).encode("utf-8")), dec.decode(data[skip:]).encode("utf-8"), False


def _unmark(lines: pl.Series) -> pl.Series:
    """Overlong lines (cut and marked by the reader) say so in the output."""
    if not lines.str.contains("\x00", literal=True).any():  # the usual case: a cheap scan
        return lines
    return lines.str.replace("\x00([0-9]+)$", f" [logtool: line of $1 bytes cut to {LONG_LINE_PREFIX} characters]")


def _stdin_fd() -> int | None:
    try:
        return sys.stdin.fileno()
    except (OSError, ValueError, io.UnsupportedOperation, AttributeError):
        return None  # an in-memory stdin (tests, embedding): read it in batches


def is_stream(path: Path | None) -> bool:
    """True for stdin pipes, FIFOs, terminals: anything that is not a regular file."""
    try:
        if path is None:
            fd = _stdin_fd()
            return fd is not None and not stat.S_ISREG(os.fstat(fd).st_mode)
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def run(
    anonymizer_for: Callable[[pl.Series], LineAnonymizer],
    source: Path | None,
    output: Output,
) -> AnonymizeResult:
    """Mask ``source`` (None = stdin) into ``output``. ``anonymizer_for`` gets the first lines
    (for format detection) and returns the anonymizer to use for the whole input."""
    result = AnonymizeResult()
    streaming = is_stream(source)  # a pipe, FIFO or terminal (stat'ed once)
    with Signals() as sig:
        if streaming:
            fd = _stdin_fd() if source is None else os.open(source, os.O_RDONLY)
            assert fd is not None
            chunks = _pipe_chunks(fd, sig, str(source or "<stdin>"))
        else:
            inp = LogInput(name=str(source or "<stdin>"), path=source, hash_content=False)
            batches = iter_batches(inp, FILE_BATCH_BYTES, keep_cr=True, first_bytes=FIRST_BATCH_BYTES)
            # read on this thread: ``in_order`` asks for the next batch while both workers mask
            chunks = ((b.get_column("line"), True) for b in batches)
        try:
            first = next(chunks, None)
            if first is None:
                return result
            anonymizer = anonymizer_for(first[0].filter(~first[0].str.contains("\x00", literal=True)))

            def mask(job: tuple[tuple[pl.Series, bool], object]) -> tuple[int, bytes | memoryview]:
                """A batch's lines masked and encoded (on a worker thread: only the bytes wait)."""
                (lines, newline), context = job
                return lines.len(), masked_bytes(anonymizer, lines, context, newline)

            # what a batch carries over from the ones before (a W3C header) is taken here, in order
            jobs = ((c, anonymizer.context(c[0])) for c in itertools.chain([first], chunks))
            # a pipe: one batch at a time, its lines go out as they come; a file: two batches
            # masked and the next one read already, so a worker that finishes does not wait for
            # this thread to read one
            done = (mask(job) for job in jobs) if streaming else in_order(mask, jobs, ahead=2)
            with closing(done):  # closed before the output: no batch is masked after it
                for count, data in done:
                    if sig.reopen:
                        output.reopen()
                        sig.reopen = False
                        result.reopened += 1
                    output.write(data)
                    result.lines += count
                    if sig.stop:
                        break
        finally:
            chunks.close()  # here, not when collected (an interrupt then would print a traceback)
            output.close()
            if source is not None and streaming:
                os.close(fd)
        result.stopped_by_signal = sig.stop
    return result


def anonymize(
    source: Path | None,
    output: Output,
    policy: Policy,
    fmt: LineFormat | None = None,
    warn: Callable[[str], None] = lambda _: None,
) -> AnonymizeResult:
    r"""Mask ``source`` (None = stdin) into ``output`` in the lines' own format: ``fmt``, or the
    format detected from the first lines; an unrecognised format is masked fail-closed (every
    IP-looking token and e-mail address), after a ``warn``\ ing."""
    name = "<stdin>" if source is None else str(source)
    if source is not None:
        if not source.exists():
            raise InputError(f"input file not found: {source}")
        if source.is_dir():
            raise InputError(f"input is a directory, not a log file: {source}")

    def anonymizer_for(first: pl.Series) -> LineAnonymizer:
        chosen = fmt
        if chosen is None:
            try:
                chosen, _ = detect_first(first, name)
            except InputError:
                warn(
                    f"logtool anonymize: format of {name} not recognised; masking every IP-looking "
                    "token and e-mail address instead (pass --format or --log-format to keep fields)"
                )
        if is_conversation(chosen):
            raise InputError(
                f"{name} holds conversation records ({chosen.name}), not log lines: they are anonymised "  # type: ignore[union-attr]
                "in the store ('logtool ingest', then 'logtool retain')"
            )
        return LineAnonymizer(chosen, policy)

    return run(anonymizer_for, source, output)
