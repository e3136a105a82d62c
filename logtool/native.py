"""The compiled part (``logtool._native``, from :file:`_native.c`) behind Arrow-shaped calls.

``split_lines`` and ``cut_fields`` return None when the compiled module is missing (a package
built without a C compiler) or cannot take the input; the caller then does the same work in
polars. Both return Arrow string-view arrays, which polars takes without a copy.

- :func:`count_lines`, :func:`split_lines`: a batch's bytes → its lines, as string views into
  those bytes.
- :func:`cut_fields`: lines → the fields a CLF-layout program names
  (:mod:`logtool.parsers.fastcut`): short values held in their views, longer ones packed into
  one buffer per field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

try:
    from logtool import _native
except ImportError:  # installed without a C compiler
    _native = None  # type: ignore[assignment]

#: Whether the compiled module is installed.
AVAILABLE = _native is not None


def count_lines(data: bytes) -> int:
    """The newlines in ``data``."""
    return data.count(b"\n") if _native is None else _native.count_lines(data)


def split_lines(data: bytes, n_lines: int, keep_cr: bool, carry: bytes = b"") -> pl.Series | None:
    """The first ``n_lines`` newline-terminated lines of ``carry + data`` without the newline (and
    one CR before it unless ``keep_cr``); None when the text is not valid UTF-8. ``carry`` (the
    start of a line the previous batch cut) is joined to the first line only: ``data`` is not
    copied."""
    if _native is None or len(data) + len(carry) >= 2**31:  # a view's offset is 32 bits
        return None
    import polars as pl
    import pyarrow as pa

    views = pa.allocate_buffer(max(n_lines * 16, 1))
    buffers = [pa.py_buffer(data)]
    start = 0
    if carry and n_lines:
        start = data.index(b"\n") + 1
        head = carry + data[:start]  # the one line that spans both
        if not _native.split(head, 0, 1, not keep_cr, views, 0, 1):
            return None
        buffers.append(pa.py_buffer(head))
    rest = n_lines - (start > 0)
    if not _native.split(data, start, rest, not keep_cr, views, n_lines - rest, 0):
        return None
    arr = pa.Array.from_buffers(pa.string_view(), n_lines, [None, views, *buffers])
    return pl.from_arrow(arr).alias("line")  # type: ignore[union-attr]


def cut_fields(lines: pl.Series, program: bytes, names: tuple[str, ...]) -> pl.DataFrame | None:
    """The fields ``program`` cuts from each of ``lines``, one column per name (all null where a
    line does not match); None when the lines are not non-null string views."""
    if _native is None:
        return None
    import polars as pl
    import pyarrow as pa

    arr = lines.to_arrow(compat_level=pl.CompatLevel.newest())  # one array: polars rechunks
    if arr.type != pa.string_view() or arr.null_count:
        return None
    n, bufs = len(arr), arr.buffers()
    data = tuple(bufs[2:])
    if sum(b.size for b in data) >= 2**31:  # a packed field's offsets are 32 bits
        return None
    out = pa.allocate_buffer(max(len(names) * n * 16, 1))
    valid = pa.allocate_buffer(max((n + 7) // 8, 1))
    sizes = _native.cut(bufs[1], data, n, arr.offset, program, len(names), out, valid)
    cols = {}
    for s, (name, size) in enumerate(zip(names, sizes, strict=True)):
        packed = pa.allocate_buffer(size)  # the field's long strings, compact (as a regex's groups are)
        _native.pack(out, s * n, data, n, packed)
        cols[name] = pa.Array.from_buffers(pa.string_view(), n, [valid, out.slice(s * n * 16, n * 16), packed])
    return pl.from_arrow(pa.table(cols))  # type: ignore[return-value]


def _views(lines: pl.Series):  # type: ignore[no-untyped-def]
    """``lines`` as one Arrow string-view array, or None when polars holds them otherwise."""
    import polars as pl
    import pyarrow as pa

    arr = lines.to_arrow(compat_level=pl.CompatLevel.newest())  # one array: polars rechunks
    return arr if arr.type == pa.string_view() else None


def first_space(lines: pl.Series) -> tuple[pl.Series, pl.Series] | None:
    """Each line cut at its first space: the text before it and the text after it, both null
    where a line has no space or starts with one. Views into the lines' bytes, nothing copied.
    None when the compiled module is missing or the lines are not non-null string views."""
    if _native is None:
        return None
    import polars as pl
    import pyarrow as pa

    arr = _views(lines)
    if arr is None or arr.null_count:
        return None
    n, bufs = len(arr), arr.buffers()
    data = tuple(bufs[2:])
    first, rest = pa.allocate_buffer(max(n * 16, 1)), pa.allocate_buffer(max(n * 16, 1))
    valid = pa.allocate_buffer(max((n + 7) // 8, 1))
    _native.first_space(bufs[1], data, n, arr.offset, first, rest, valid)
    return tuple(  # type: ignore[return-value]
        pl.from_arrow(pa.Array.from_buffers(pa.string_view(), n, [valid, views, *data])) for views in (first, rest)
    )


def join_lines(lines: pl.Series, tails: pl.Series | None = None, final_newline: bool = True) -> bytes | None:
    """``lines`` as the bytes of a text file: row by row the line (a null one empty), then a
    space and the row's tail where ``tails`` is not null, then a newline (after the last line
    only when ``final_newline``). None when the compiled module is missing or the series are not
    string views."""
    if _native is None:
        return None
    arr = _views(lines)
    tarr = _views(tails) if tails is not None else None
    if arr is None or (tails is not None and (tarr is None or len(tarr) != len(arr))):
        return None
    bufs = arr.buffers()
    targs: tuple[object, ...] = (None, (), None, 0)
    if tarr is not None:
        tb = tarr.buffers()
        targs = (tb[1], tuple(tb[2:]), tb[0], tarr.offset)
    return _native.join(bufs[1], tuple(bufs[2:]), bufs[0], arr.offset, *targs, len(arr), final_newline)
