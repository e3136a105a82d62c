"""Bytes → lines: a batch of decompressed bytes cut into a string Series of lines, and the
marking of overlong lines (kept as a prefix and a length, in bounded memory, and quarantined).

Valid UTF-8 is cut in compiled code (:mod:`logtool.native`) into views of the batch's bytes;
anything else goes through polars' CSV reader, which decodes lossily.
"""

from __future__ import annotations

import io

import polars as pl

from logtool import native

#: Longest line parsed (bytes): longer lines are quarantined ("line longer than …"), not parsed.
MAX_LINE_BYTES = 64 * 1024
#: Characters of an overlong line kept (for the quarantine and ``anonymize``).
LONG_LINE_PREFIX = 4096
#: Marks an overlong line: its prefix, NUL, its length (a NUL never survives in a line otherwise).
_LONG_MARK = "\x00"

#: First bytes the CSV reader would take for compressed data (gzip, zlib, bzip2, xz).
_INFLATABLE = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"BZ", b"\xfd7")


def split_lines(data: bytes, n_lines: int, keep_cr: bool = False, carry: bytes = b"") -> pl.Series:
    """The first ``n_lines`` newline-terminated lines of ``carry + data`` (without the newline,
    and without one CR before it unless ``keep_cr``) as a string Series.

    Valid UTF-8 is cut in compiled code into views of ``data`` (not copied: a batch is 12-16 MiB,
    and ``carry``, the start of a line the previous batch cut, joins the first line only; a line
    holding NUL is copied, with the NUL escaped).
    Otherwise the CSV reader, with a separator that cannot occur (NUL is escaped first), splits
    and decodes lossily in polars.
    """
    nul = b"\x00" in data or b"\x00" in carry  # kept visible as an escape, \x00
    if (lines := native.split_lines(data, n_lines, keep_cr, carry)) is not None:
        # escaped in the lines that hold one, the others left as views: a copy of the whole
        # batch here, in Python's heap, left holes of odd sizes that later reads could not
        # reuse (~50 MiB more at 1M lines)
        if nul:
            idx = lines.str.contains("\x00", literal=True).arg_true()
            lines = lines.scatter(idx, lines.gather(idx).str.replace_all("\x00", "\\x00", literal=True))
        return lines
    if nul:  # NUL would split the single CSV column
        data, carry = (carry + data).replace(b"\x00", b"\\x00"), b""
    if carry:
        data = carry + data
    if keep_cr and b"\r" in data:  # the CSV reader drops CR before LF: split in Python instead
        lines = data.decode("utf-8", "replace").split("\n")[:n_lines]
        return pl.Series("line", lines, dtype=pl.String)
    # A batch that starts like gzip, zlib or zstd data would be inflated by the CSV reader (it
    # sniffs the first bytes): a leading newline (an empty first row, dropped) prevents that.
    lead = 1 if data[:2] in _INFLATABLE or data[:4] == b"\x28\xb5\x2f\xfd" else 0
    try:
        df = pl.read_csv(
            io.BytesIO(b"\n" + data if lead else data),
            has_header=False,
            separator="\x00",
            quote_char=None,
            encoding="utf8-lossy",
            new_columns=["line"],
            infer_schema=False,
            n_rows=n_lines + lead,
        )
        s = df.get_column("line").slice(lead).fill_null("")
        if s.len() == n_lines:
            return s  # the reader drops the one CR before each LF (keep_cr: no CR here)
    except (pl.exceptions.PolarsError, OSError):
        pass
    # Slow path for inputs the CSV reader splits differently (lone CRs and the like).
    lines = data.decode("utf-8", "replace").split("\n")[:n_lines]
    s = pl.Series("line", lines, dtype=pl.String)
    return s if keep_cr else s.str.strip_suffix("\r")


def split_overlong(batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``batch`` without its overlong lines, and those lines (``line_no``, ``line`` cut to
    :data:`LONG_LINE_PREFIX` characters, ``reason``)."""
    mark = pl.col("line").str.contains(_LONG_MARK, literal=True)
    if not batch.select(mark.any()).item():
        return batch, batch.head(0).with_columns(pl.lit(None, pl.String).alias("reason"))
    parts = pl.col("line").str.splitn(_LONG_MARK, 2)
    size = parts.struct.field("field_1").cast(pl.Int64, strict=False)
    long = batch.filter(mark).with_columns(
        parts.struct.field("field_0").alias("line"),
        pl.format("line longer than {} bytes ({} bytes): not parsed", pl.lit(MAX_LINE_BYTES), size).alias("reason"),
    )
    return batch.filter(~mark), long


def cut_long(s: pl.Series) -> pl.Series:
    """Lines over :data:`MAX_LINE_BYTES` as their prefix and a marker (see :func:`split_overlong`)."""
    n = s.str.len_bytes()
    if not (n > MAX_LINE_BYTES).any():
        return s
    cut = pl.concat_str([pl.col("l").str.slice(0, LONG_LINE_PREFIX), pl.lit(_LONG_MARK), pl.col("n").cast(pl.String)])
    frame = pl.DataFrame({"l": s, "n": n})
    return frame.select(
        pl.when(pl.col("n") > MAX_LINE_BYTES).then(cut).otherwise(pl.col("l")).alias(s.name)
    ).to_series()


def long_line(prefix: bytes, size: int) -> str:
    """An overlong line's marked form, from the first bytes of the line and its length."""
    text = prefix.decode("utf-8", "replace").replace("\r", "")[:LONG_LINE_PREFIX]
    return text.replace("\x00", "\\x00") + _LONG_MARK + str(size)
