"""Reading log inputs: plain, gzip, bzip2, xz, zstd or stdin, as bounded batches of lines.

Compression is recognised by magic bytes, not by file name. Lines are decoded as UTF-8 with
replacement characters for invalid bytes (never a crash), CR before LF is dropped, and every
line keeps its 1-based line number. While reading, a SHA-256 of the decompressed content is
computed: the file's fingerprint, independent of its name. Pipes, FIFOs and process
substitutions are read exactly once (the fingerprint is taken while parsing).

Text with a byte-order mark is decoded (UTF-8, UTF-16 and UTF-32, either byte order); text that
looks like UTF-16/32 without one is refused (:class:`InputError`), never read as UTF-8 — its
addresses would not look like addresses. A line longer than :data:`MAX_LINE_BYTES` is not
parsed: it comes out cut to :data:`LONG_LINE_PREFIX` characters with a marker
(:func:`~logtool.linesplit.split_overlong`), and memory stays bounded however long it is.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import hashlib
import io
import lzma
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from logtool import native
from logtool.errors import InputError
from logtool.linesplit import LONG_LINE_PREFIX, MAX_LINE_BYTES, cut_long, long_line, split_lines
from logtool.pipeline import ReadAhead

#: Bytes of decompressed input per batch; bounds memory whatever the file size.
#: Ingest's batch: large, as every polars call over a batch has a fixed cost, and small enough
#: that the four batches in flight (two parsed, one written, one read) stay within 512 MiB at
#: 10M lines. Measured at 10M lines (alternating runs): 12 MiB 21.1 s and 410 MiB, 14 MiB 20.0 s
#: and 437 MiB, 16 MiB 19.4 s and 487 MiB (too close to 512 for runs that vary by ±20 MiB);
#: at 1M lines 2.79, 2.71 and 2.65 s (README, "Performance").
DEFAULT_BATCH_BYTES = 14 * 1024 * 1024
_BOMS = [
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
]

_MAGIC = [
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]


@dataclass
class LogInput:
    """One input and what reading it found."""

    name: str
    path: Path | None  # None for stdin
    compression: str = "none"
    sha256: str = ""
    size: int = 0  # decompressed bytes
    lines: int = 0
    #: SHA-256 of the file on disk, if known; for uncompressed files it is the content's too.
    disk_sha256: str | None = None
    #: ``disk_sha256`` is being taken elsewhere (ingest, on a thread): plain text is not hashed again.
    disk_sha256_later: bool = False
    #: The bytes ``disk_sha256`` covers (the file's size on disk), when taken by ingest.
    disk_bytes: int | None = None
    #: Compute the content fingerprint while reading (not needed by ``anonymize``).
    hash_content: bool = True
    #: Bytes of the file on disk read so far (compressed bytes for a compressed file).
    disk_read: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)


def sniff_text(head: bytes, name: str) -> tuple[str | None, int]:
    """The encoding a byte-order mark at the start of ``head`` announces (None: UTF-8 without
    one) and the mark's length. Text that looks like UTF-16/32 without a mark is refused."""
    for bom, enc in _BOMS:
        if head.startswith(bom):
            return (None if enc == "utf-8" else enc), len(bom)
    sample = head[:4096]
    if len(sample) >= 16 and sample.count(0) * 4 >= len(sample):
        raise InputError(
            f"{name}: looks like UTF-16 or UTF-32 text without a byte-order mark; convert it to UTF-8 first "
            "(e.g. iconv -f UTF-16LE -t UTF-8)"
        )
    return None, 0


class _Decoded(io.RawIOBase):
    """``head`` and the rest of ``stream`` as UTF-8 bytes: decoded from ``encoding`` (None: as
    they are), a byte-order mark of ``skip`` bytes dropped."""

    def __init__(self, stream: BinaryIO, head: bytes, encoding: str | None, skip: int) -> None:
        self._stream, self._head = stream, head[skip:]
        self._decoder = codecs.getincrementaldecoder(encoding)("replace") if encoding else None

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:  # type: ignore[override]
        while True:
            if self._head:
                cut = len(self._head) if n < 0 else n
                data, self._head = self._head[:cut], self._head[cut:]
                if n > len(data):
                    data += self._stream.read(n - len(data)) or b""
            else:
                data = self._stream.read(n)
            if self._decoder is None:
                return data
            out = self._decoder.decode(data, final=not data).encode("utf-8")
            if out or not data:  # a chunk that ends inside a character decodes to nothing yet
                return out

    def close(self) -> None:
        self._stream.close()
        super().close()


def is_regular(path: Path | None) -> bool:
    """True for a regular file (a pipe, FIFO, ``/dev/stdin`` or terminal can be read only once)."""
    if path is None:
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _open_raw(path: Path | None) -> BinaryIO:
    if path is None:
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise InputError(f"input is a directory, not a log file: {path}") from None
    except OSError as e:
        raise InputError(f"cannot open {path}: {e.strerror}") from None


def open_decompressed(path: Path | None) -> tuple[BinaryIO, str]:
    """Open ``path`` (None = stdin) and transparently decompress it by its magic bytes."""
    return _open_decompressed(path, str(path or "<stdin>"))[:2]  # type: ignore[return-value]


def disk_size(inp: LogInput) -> int | None:
    """Size of a regular input file on disk (None for stdin, pipes and the like)."""
    if inp.path is None:
        return None
    try:
        st = inp.path.stat()
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _open_decompressed(path: Path | None, name: str = "input") -> tuple[BinaryIO, str, BinaryIO]:
    stream, kind, raw = _decompressed(path)
    try:
        head = stream.read(4096)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise InputError(f"{name}: corrupt or truncated {kind} data: {e}") from None
    encoding, skip = sniff_text(head, name)
    return _Decoded(stream, head, encoding, skip), kind, raw  # type: ignore[return-value]


def _decompressed(path: Path | None) -> tuple[BinaryIO, str, BinaryIO]:
    raw = _open_raw(path)
    buffered = raw if isinstance(raw, io.BufferedReader) else io.BufferedReader(raw)  # type: ignore[arg-type]
    head = buffered.peek(8)[:8]
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind == "gzip":
                return _gunzip(buffered), kind, raw
            if kind == "bzip2":
                return bz2.BZ2File(buffered), kind, raw  # type: ignore[return-value]
            if kind == "xz":
                return lzma.LZMAFile(buffered), kind, raw  # type: ignore[return-value]
            import zstandard

            zst = zstandard.ZstdDecompressor().stream_reader(buffered, read_across_frames=True)
            return zst, kind, raw  # type: ignore[return-value]
    return buffered, "none", raw


def _gunzip(f: BinaryIO) -> BinaryIO:
    """gzip members inflated by ISA-L (``isal``: about three times zlib's speed) where it is
    installed, else by the standard library."""
    try:
        from isal import igzip
    except ImportError:  # pragma: no cover - isal is a dependency; a platform without a wheel
        return gzip.GzipFile(fileobj=f)  # type: ignore[return-value]
    return igzip.IGzipFile(fileobj=f)  # type: ignore[return-value]


@contextmanager
def _read_errors(name: str, kind: str) -> Iterator[None]:
    """Corrupt or truncated compressed data read in the block: an :class:`InputError` naming it."""
    try:
        yield
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise InputError(f"{name}: corrupt or truncated {kind} data: {e}") from None
    except Exception as e:  # zstandard and ISA-L raise their own error types
        if type(e).__name__ == "ZstdError":
            raise InputError(f"{name}: corrupt zstd data: {e}") from None
        if type(e).__name__ == "IsalError":
            raise InputError(f"{name}: corrupt or truncated {kind} data: {e}") from None
        raise


def check_complete(inp: LogInput) -> None:
    """Decompress ``inp`` to its end, discarding the text: an :class:`InputError` if it is
    truncated or corrupt."""
    stream, kind, _ = _decompressed(inp.path)
    try:
        with _read_errors(inp.name, kind):
            while stream.read(4 * 1024 * 1024):
                pass
    finally:
        if inp.path is not None:
            stream.close()


#: Bytes read at a time for a file's digest.
DIGEST_CHUNK = 4 * 1024 * 1024


def file_digest(path: Path) -> str:
    """SHA-256 of the bytes on disk (before decompression): a cheap identity for re-runs."""
    return disk_digest(path)[0]


def disk_digest(path: Path) -> tuple[str, int]:
    """:func:`file_digest` and the number of bytes it covers."""
    h, size = hashlib.sha256(), 0
    # one buffer read into again and again: a fresh 16 MiB ``bytes`` per read cost a third of
    # the time in allocation and page faults; 4 MiB reads keep the GIL hand-overs few (hashing
    # runs beside other threads)
    buf = bytearray(DIGEST_CHUNK)
    view = memoryview(buf)
    with _open_raw(path) as f:
        try:
            while n := f.readinto(buf):
                h.update(view[:n])
                size += n
        except OSError as e:
            raise InputError(f"cannot read {path}: {e.strerror}") from None
    return h.hexdigest(), size


def iter_batches(
    inp: LogInput, batch_bytes: int = DEFAULT_BATCH_BYTES, keep_cr: bool = False, first_bytes: int | None = None
) -> Iterator[pl.DataFrame]:
    """Yield DataFrames with columns ``line_no`` (1-based) and ``line``; fills in ``inp``.
    Overlong lines come marked (see :func:`~logtool.linesplit.split_overlong`); memory stays bounded for them.
    ``first_bytes``: the first batch's size, when it should be smaller (work can start on it
    while the next one is read); a compressed input is inflated ahead in ``batch_bytes`` blocks."""
    stream, inp.compression, raw = _open_decompressed(inp.path, inp.name)
    disk_hash = inp.disk_sha256 is not None or inp.disk_sha256_later
    reuse_disk_hash = (inp.compression == "none" and disk_hash) or not inp.hash_content
    hash_here = not reuse_disk_hash
    if inp.compression != "none":  # inflated and hashed ahead, on a thread of its own
        stream = ReadAhead(stream, batch_bytes, inp._hash if hash_here else None)  # type: ignore[assignment]
        hash_here = False
    carry = b""
    skipped = 0  # bytes of an overlong line dropped so far (the line has no newline yet)
    line_no = 1
    size = first_bytes or batch_bytes
    try:
        while True:
            with _read_errors(inp.name, inp.compression):
                block = stream.read(size)
            size = batch_bytes
            if not block:
                break
            try:
                inp.disk_read = raw.tell()
            except (OSError, ValueError):  # a pipe has no position
                inp.disk_read += len(block)
            if hash_here:
                inp._hash.update(block)
            inp.size += len(block)
            if skipped:  # inside an overlong line: drop bytes up to its end, then emit it marked
                end = block.find(b"\n")
                if end < 0:
                    skipped += len(block)
                    continue
                yield _frame(pl.Series("line", [long_line(carry, len(carry) + skipped + end)]), line_no)
                line_no += 1
                carry, skipped, block = b"", 0, block[end + 1 :]
                if not block:
                    continue
            n = native.count_lines(block)  # the carry holds no newline
            if n == 0:
                carry += block
                if len(carry) > MAX_LINE_BYTES:  # keep the prefix only, skip to the line's end
                    skipped, carry = len(carry) - LONG_LINE_PREFIX * 4, carry[: LONG_LINE_PREFIX * 4]
                continue
            s = cut_long(split_lines(block, n, keep_cr, carry))  # the carry joins the first line, uncopied
            carry = block[block.rfind(b"\n") + 1 :]
            yield _frame(s, line_no)
            line_no += s.len()
            if len(carry) > MAX_LINE_BYTES:
                skipped, carry = len(carry) - LONG_LINE_PREFIX * 4, carry[: LONG_LINE_PREFIX * 4]
        if skipped:
            yield _frame(pl.Series("line", [long_line(carry, len(carry) + skipped)]), line_no)
            line_no += 1
        elif carry:
            s = cut_long(split_lines(carry + b"\n", 1, keep_cr))
            yield _frame(s, line_no)
            line_no += s.len()
    finally:
        if inp.path is not None:
            stream.close()
    inp.lines = line_no - 1
    inp.sha256 = (inp.disk_sha256 or "") if reuse_disk_hash else inp._hash.hexdigest()


def _frame(lines: pl.Series, first: int) -> pl.DataFrame:
    # one chunk (cheap: string views are not copied); work on the many chunks the reader makes costs more
    return pl.DataFrame(
        {"line_no": pl.int_range(first, first + lines.len(), dtype=pl.Int64, eager=True), "line": lines.rechunk()}
    )


def make_inputs(paths: list[str]) -> list[LogInput]:
    """Turn CLI arguments into inputs; ``-`` means standard input."""
    out = []
    for p in paths:
        if p == "-":
            out.append(LogInput(name="<stdin>", path=None))
        else:
            out.append(LogInput(name=Path(p).name, path=Path(p)))
    return out
