"""The compiled part (``logtool._native``, from :file:`_native.c`) behind Arrow-shaped calls.

Every call returns None when the compiled module is missing (a package built without a C
compiler) or cannot take the input; the caller then does the same work in polars. Arrays go to
and from polars through the Arrow C data interface (:file:`_native_arrow.h`), as string views
that point into the bytes they came from: nothing is copied, and pyarrow is not loaded.

- :func:`count_lines`, :func:`split_lines`: a batch's bytes → its lines, as string views into
  those bytes.
- :func:`cut_fields`: lines → the fields a CLF-layout program names
  (:mod:`logtool.parsers.fastcut`): short values held in their views, longer ones packed into
  one buffer per field.
- :func:`first_space`, :func:`join_lines`: ``anonymize``'s fast path, lines cut at their first
  space, and lines written out as the bytes of a text file.
- :func:`v6_networks`: plain IPv6 client addresses → their networks (new clients).
- :func:`mmdb_records`: client addresses → the records they lead to in a MaxMind database's
  search tree (the country lookup of new clients).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def _series(name: str, n: int, views: Any, data: tuple[Any, ...], validity: Any = None) -> pl.Series:
    """``n`` string views over ``data`` (and a validity bitmap) as a polars Series, uncopied."""
    import polars as pl

    return pl.Series(_native.export_strings(name, n, views, data, validity))


def _strings(lines: pl.Series) -> Any:
    """``lines`` as one imported string-view array (its buffers), or None."""
    return _native.strings(lines.rechunk().__arrow_c_stream__())


def _whole_strings(values: pl.Series) -> Any:
    """``values`` as one imported string-view array without nulls; None when the compiled
    module is missing or the values are not such strings."""
    if _native is None:
        return None
    arr = _strings(values)
    return None if arr is None or arr.null_count else arr


def split_lines(data: bytes, n_lines: int, keep_cr: bool, carry: bytes = b"") -> pl.Series | None:
    """The first ``n_lines`` newline-terminated lines of ``carry + data`` without the newline (and
    one CR before it unless ``keep_cr``); None when the text is not valid UTF-8. ``carry`` (the
    start of a line the previous batch cut) is joined to the first line only: ``data`` is not
    copied."""
    if _native is None or len(data) + len(carry) >= 2**31:  # a view's offset is 32 bits
        return None
    views = bytearray(n_lines * 16)
    buffers: tuple[bytes, ...] = (data,)
    start = 0
    if carry and n_lines:
        start = data.index(b"\n") + 1
        head = carry + data[:start]  # the one line that spans both
        if not _native.split(head, 0, 1, not keep_cr, views, 0, 1):
            return None
        buffers = (data, head)
    rest = n_lines - (start > 0)
    if not _native.split(data, start, rest, not keep_cr, views, n_lines - rest, 0):
        return None
    return _series("line", n_lines, views, buffers)


#: :func:`cut_fields`' clean-up of a field: as cut (``KEEP``), or ``CLEAN``: "-" and "" made
#: null and Apache's ``\\"`` and ``\\\\`` escapes undone, as :mod:`logtool.parsers.normalise` would.
KEEP, CLEAN = 0, 2


def cut_fields(
    lines: pl.Series,
    program: bytes,
    names: tuple[str, ...],
    pack: bool = True,
    clean: dict[str, int] | None = None,
    times: str | None = None,
) -> pl.DataFrame | None:
    """The fields ``program`` cuts from each of ``lines``, one column per name (all null where a
    line does not match); None when the lines are not non-null string views. Each field's
    values are packed into a buffer of its own, and cleaned up as ``clean`` says
    (:data:`CLEAN`: then each distinct value is copied once, and equal values get equal views,
    as a column's distinct values joined back do); unnamed fields are kept as cut. ``times``:
    the field of CLF times (``24/Nov/2026:10:00:00 +0100``), which comes read as ``ts`` and
    ``tz_offset_min`` (:func:`clf_times`) when it can be. ``pack=False``: the
    fields stay views into the lines' bytes (for a passing look: a field kept would keep all of
    them), as cut."""
    if (arr := _whole_strings(lines)) is None:
        return None
    import polars as pl

    n, data = arr.length, arr.data
    if sum(len(memoryview(b)) for b in data) >= 2**31:  # a packed field's offsets are 32 bits
        return None
    out, valid = bytearray(len(names) * n * 16), bytearray((n + 7) // 8)
    sizes = _native.cut(arr.views, data, n, arr.offset, program, len(names), out, valid)
    views, cols, clean = memoryview(out), {}, clean or {}
    for s, (name, size) in enumerate(zip(names, sizes, strict=True)):
        field = views[s * n * 16 : (s + 1) * n * 16]
        if name == times and pack and (read := clf_times(field, data, n, valid)) is not None:
            cols["ts"], cols["tz_offset_min"] = read
            continue
        buffers, bits = data, valid
        if pack:
            mode = clean.get(name, KEEP)
            bits = bytearray((n + 7) // 8) if mode != KEEP else valid
            buffers = (_native.pack(out, s * n, data, n, size, valid, mode, bits),)
        cols[name] = _series(name, n, field, buffers, bits)
    return pl.DataFrame(cols)


def clf_times(views: Any, data: tuple[Any, ...], n: int, valid: Any) -> tuple[pl.Series, pl.Series] | None:
    """A field of CLF times (``n`` string views over ``data``, rows in ``valid``) read as the
    normaliser's ``ts`` (UTC; null where the time does not exist or lies outside its bounds)
    and ``tz_offset_min``, as :func:`logtool.parsers.normalise.timestamp` reads them; None when
    a time is not in the plain layout or is a leap second (polars then reads them all)."""
    import polars as pl

    from logtool.schema import TS

    us, tz, ok = bytearray(n * 8), bytearray(n * 2), bytearray((n + 7) // 8)
    if not _native.clf_times(views, data, n, valid, us, tz, ok):
        return None
    ts = pl.Series(_native.export_numbers("ts", n, "l", us, ok)).cast(TS)
    return ts, pl.Series(_native.export_numbers("tz_offset_min", n, "s", tz, valid))


def first_space(lines: pl.Series) -> tuple[pl.Series, pl.Series] | None:
    """Each line cut at its first space: the text before it and the text after it, both null
    where a line has no space or starts with one. Views into the lines' bytes, nothing copied.
    None when the compiled module is missing or the lines are not non-null string views."""
    if (arr := _whole_strings(lines)) is None:
        return None
    n = arr.length
    first, rest, valid = bytearray(n * 16), bytearray(n * 16), bytearray((n + 7) // 8)
    _native.first_space(arr.views, arr.data, n, arr.offset, first, rest, valid)
    return _series(lines.name, n, first, arr.data, valid), _series(lines.name, n, rest, arr.data, valid)


def join_lines(lines: pl.Series, tails: pl.Series | None = None, final_newline: bool = True) -> bytes | None:
    """``lines`` as the bytes of a text file: row by row the line (a null one empty), then a
    space and the row's tail where ``tails`` is not null, then a newline (after the last line
    only when ``final_newline``). None when the compiled module is missing or the series are not
    string views."""
    if _native is None:
        return None
    arr = _strings(lines)
    tarr = _strings(tails) if tails is not None else None
    if arr is None or (tails is not None and (tarr is None or tarr.length != arr.length)):
        return None
    targs: tuple[object, ...] = (None, (), None, 0)
    if tarr is not None:
        targs = (tarr.views, tarr.data, tarr.validity, tarr.offset)
    return _native.join(arr.views, arr.data, arr.validity, arr.offset, *targs, arr.length, final_newline)


def mmdb_records(ips: pl.Series, db: Any, node_count: int, record_size: int, ip_version: int) -> pl.Series | None:
    """The search-tree record each of ``ips`` (no nulls) leads to in a MaxMind database (``db``:
    its bytes; the rest from its metadata), as Int64: ``node_count`` where the tree has nothing for
    the address, more where it has data; -1 for an IPv6 address in an IPv4-only database, -2 for
    the caller to look up (no canonical dotted quad or plain IPv6 literal, or a walk that ends on a
    node). None when the compiled module is missing or cannot take the input."""
    if not (0 < node_count < 2**32 and record_size in (24, 28, 32) and ip_version in (4, 6)):
        return None  # (metadata a damaged file made up: the reader decides)
    if (arr := _whole_strings(ips)) is None:
        return None
    import polars as pl

    n = arr.length
    out = bytearray(n * 8)
    if not _native.mmdb_walk(arr.views, arr.data, n, arr.offset, db, node_count, record_size, ip_version, out):
        return None
    return pl.Series(_native.export_numbers(ips.name, n, "l", out, None))


def v6_networks(ips: pl.Series, prefix: int) -> pl.Series | None:
    """Each of ``ips`` that is a plain IPv6 literal as its network, ``addr/prefix`` (what
    :func:`logtool.net.fast_v6_network` makes of it, with ``/prefix``), null where that function
    would leave the address to the careful path; None when the compiled module is missing or
    cannot take the input."""
    if (arr := _whole_strings(ips)) is None or arr.length * 56 >= 2**31:  # 32-bit view offsets
        return None
    n = arr.length
    views, data, valid = bytearray(n * 16), bytearray(n * 56), bytearray((n + 7) // 8)
    used = _native.v6_networks(arr.views, arr.data, n, arr.offset, prefix, views, data, valid)
    return _series(ips.name, n, views, (memoryview(data)[:used],), valid)
