"""Reading log inputs: plain, gzip, bzip2, xz, zstd or stdin, as bounded batches of lines.

Compression is recognised by magic bytes, not by file name. Lines are decoded as UTF-8 with
replacement characters for invalid bytes (never a crash), CR before LF is dropped, and every
line keeps its 1-based line number. While reading, a SHA-256 of the decompressed content is
computed: the file's fingerprint, independent of its name.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from logtool.errors import InputError

#: Bytes of decompressed input per batch; bounds memory whatever the file size.
DEFAULT_BATCH_BYTES = 16 * 1024 * 1024

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
    #: Compute the content fingerprint while reading (not needed by ``anonymize``).
    hash_content: bool = True
    #: Bytes of the file on disk read so far (compressed bytes for a compressed file).
    disk_read: int = 0
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)


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
    stream, kind, _ = _open_decompressed(path)
    return stream, kind


def disk_size(inp: LogInput) -> int | None:
    """Size of a regular input file on disk (None for stdin, pipes and the like)."""
    if inp.path is None:
        return None
    try:
        st = inp.path.stat()
    except OSError:
        return None
    import stat

    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _open_decompressed(path: Path | None) -> tuple[BinaryIO, str, BinaryIO]:
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


class _Inflating:
    """A decompressing stream read ahead by a thread of its own, one block at a time, so that
    inflating (and hashing the text) overlaps splitting and parsing: zlib, ISA-L, bz2, lzma and
    zstd release the GIL. ``read`` returns the next block whatever size is asked."""

    def __init__(self, stream: BinaryIO, size: int, hasher: hashlib._Hash | None) -> None:
        from logtool.pipeline import prefetch

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


def file_digest(path: Path) -> str:
    """SHA-256 of the bytes on disk (before decompression): a cheap identity for re-runs."""
    h = hashlib.sha256()
    with _open_raw(path) as f:
        try:
            while chunk := f.read(4 * 1024 * 1024):
                h.update(chunk)
        except OSError as e:
            raise InputError(f"cannot read {path}: {e.strerror}") from None
    return h.hexdigest()


def _split_lines(data: bytes, n_lines: int, keep_cr: bool = False) -> pl.Series:
    """The first ``n_lines`` newline-terminated lines of ``data`` as a string Series.

    Uses the CSV reader with a separator that cannot occur (NUL is escaped first), so the
    split and the lossy UTF-8 decoding run in polars without copying ``data``.
    """
    if b"\x00" in data:  # NUL would split the single CSV column; keep it visible as an escape
        data = data.replace(b"\x00", b"\\x00")
    if keep_cr and b"\r" in data:  # the CSV reader drops CR before LF: split in Python instead
        lines = data.decode("utf-8", "replace").split("\n")[:n_lines]
        return pl.Series("line", lines, dtype=pl.String)
    try:
        df = pl.read_csv(
            io.BytesIO(data),
            has_header=False,
            separator="\x00",
            quote_char=None,
            encoding="utf8-lossy",
            new_columns=["line"],
            infer_schema=False,
            n_rows=n_lines,
        )
        s = df.get_column("line").fill_null("")
        if s.len() == n_lines:
            return s if keep_cr else s.str.strip_suffix("\r")
    except pl.exceptions.PolarsError:
        pass
    # Slow path for inputs the CSV reader splits differently (lone CRs and the like).
    lines = data.decode("utf-8", "replace").split("\n")[:n_lines]
    s = pl.Series("line", lines, dtype=pl.String)
    return s if keep_cr else s.str.strip_suffix("\r")


def iter_batches(
    inp: LogInput, batch_bytes: int = DEFAULT_BATCH_BYTES, keep_cr: bool = False
) -> Iterator[pl.DataFrame]:
    """Yield DataFrames with columns ``line_no`` (1-based) and ``line``; fills in ``inp``."""
    stream, inp.compression, raw = _open_decompressed(inp.path)
    reuse_disk_hash = (inp.compression == "none" and inp.disk_sha256 is not None) or not inp.hash_content
    hash_here = not reuse_disk_hash
    if inp.compression != "none":  # inflated and hashed ahead, on a thread of its own
        stream = _Inflating(stream, batch_bytes, inp._hash if hash_here else None)  # type: ignore[assignment]
        hash_here = False
    carry = b""
    line_no = 1
    try:
        while True:
            try:
                block = stream.read(batch_bytes)
            except (OSError, EOFError, lzma.LZMAError) as e:
                raise InputError(f"{inp.name}: corrupt or truncated {inp.compression} data: {e}") from None
            except Exception as e:  # zstandard and ISA-L raise their own error types
                if type(e).__name__ == "ZstdError":
                    raise InputError(f"{inp.name}: corrupt zstd data: {e}") from None
                if type(e).__name__ == "IsalError":
                    raise InputError(f"{inp.name}: corrupt or truncated {inp.compression} data: {e}") from None
                raise
            if not block:
                break
            try:
                inp.disk_read = raw.tell()
            except (OSError, ValueError):  # a pipe has no position
                inp.disk_read += len(block)
            if hash_here:
                inp._hash.update(block)
            inp.size += len(block)
            data = carry + block if carry else block
            n = data.count(b"\n")
            if n == 0:
                carry = data
                continue
            carry = data[data.rfind(b"\n") + 1 :]
            s = _split_lines(data, n, keep_cr)
            yield _frame(s, line_no)
            line_no += s.len()
        if carry:
            s = _split_lines(carry + b"\n", 1, keep_cr)
            yield _frame(s, line_no)
            line_no += s.len()
    finally:
        if inp.path is not None:
            stream.close()
    inp.lines = line_no - 1
    inp.sha256 = inp.disk_sha256 if reuse_disk_hash else inp._hash.hexdigest()  # type: ignore[assignment]


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
