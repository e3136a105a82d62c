"""Reading inputs: every compression, stdin, odd bytes, batch boundaries, corrupt data."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import sys
from pathlib import Path

import pytest
import zstandard

from logtool.errors import InputError
from logtool.inputs import iter_batches, make_inputs

TEXT = b"".join(f"line {i}\n".encode() for i in range(1, 2001))


def read_all(path: str, batch_bytes: int = 1 << 20) -> tuple[list[tuple[int, str]], object]:
    inp = make_inputs([path])[0]
    rows = [r for b in iter_batches(inp, batch_bytes) for r in b.iter_rows()]
    return rows, inp


@pytest.mark.parametrize(
    "suffix,compress",
    [
        ("", lambda b: b),
        (".gz", gzip.compress),
        (".bz2", bz2.compress),
        (".xz", lzma.compress),
        (".zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ],
)
def test_every_compression_reads_the_same_lines(tmp_path: Path, suffix: str, compress) -> None:
    p = tmp_path / f"access.log{suffix}"
    p.write_bytes(compress(TEXT))
    rows, inp = read_all(str(p), batch_bytes=1000)
    assert [ln for _, ln in rows] == [f"line {i}" for i in range(1, 2001)]
    assert [n for n, _ in rows] == list(range(1, 2001))
    assert inp.sha256 == hashlib.sha256(TEXT).hexdigest()  # fingerprint of content, not container
    assert inp.lines == 2000


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_smaller_first_batch_reads_the_same_lines(tmp_path: Path, suffix: str) -> None:
    """``first_bytes``: the first batch of a plain file that size (a compressed one is inflated
    ahead in blocks of ``batch_bytes``), the others ``batch_bytes``; the lines, their numbers and
    the fingerprint the same as without it."""
    p = tmp_path / f"access.log{suffix}"
    p.write_bytes(gzip.compress(TEXT) if suffix else TEXT)
    inp = make_inputs([str(p)])[0]
    batches = list(iter_batches(inp, 4000, first_bytes=300))
    if not suffix:
        assert [b.height for b in batches[:2]] == [TEXT[:300].count(b"\n"), TEXT[300:4300].count(b"\n")]
    rows = [r for b in batches for r in b.iter_rows()]
    assert rows == read_all(str(p), batch_bytes=1000)[0]
    assert inp.sha256 == hashlib.sha256(TEXT).hexdigest() and inp.lines == 2000


def test_compression_is_recognised_by_content_not_name(tmp_path: Path) -> None:
    p = tmp_path / "access.log.1"  # gzip'd but without .gz, as some rotations leave it
    p.write_bytes(gzip.compress(TEXT))
    rows, inp = read_all(str(p))
    assert len(rows) == 2000 and inp.compression == "gzip"


def test_concatenated_gzip_members(tmp_path: Path) -> None:
    p = tmp_path / "a.gz"
    p.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n"))
    rows, _ = read_all(str(p))
    assert [ln for _, ln in rows] == ["a", "b", "c"]


def test_odd_bytes_never_crash(tmp_path: Path) -> None:
    data = b"crlf\r\nnul\x00inside\n\nbad \xff\xfe utf8\nlone\rcr\nno newline at end"
    p = tmp_path / "odd.log"
    p.write_bytes(data)
    rows, inp = read_all(str(p), batch_bytes=7)
    assert [ln for _, ln in rows] == [
        "crlf",
        "nul\\x00inside",
        "",
        "bad \ufffd\ufffd utf8",
        "lone\rcr",
        "no newline at end",
    ]
    assert [n for n, _ in rows] == [1, 2, 3, 4, 5, 6]
    assert inp.lines == 6


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = io.TextIOWrapper(io.BytesIO(gzip.compress(b"x\ny\n")))
    monkeypatch.setattr(sys, "stdin", fake)
    inp = make_inputs(["-"])[0]
    rows = [r for b in iter_batches(inp) for r in b.iter_rows()]
    assert inp.name == "<stdin>" and [ln for _, ln in rows] == ["x", "y"]


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="input file not found"):
        read_all(str(tmp_path / "nope.log"))


def test_truncated_gzip_is_an_input_error(tmp_path: Path) -> None:
    p = tmp_path / "cut.gz"
    p.write_bytes(gzip.compress(TEXT)[:200])
    with pytest.raises(InputError, match="corrupt or truncated gzip"):
        read_all(str(p))


def test_in_order_keeps_order_and_raises_errors() -> None:
    import time

    from logtool.pipeline import in_order

    def slow_first(i: int) -> int:
        time.sleep(0.02 if i == 0 else 0)  # the first item finishes last
        if i == 7:
            raise ValueError("boom")
        return i * i

    assert list(in_order(slow_first, iter(range(7)))) == [i * i for i in range(7)]
    with pytest.raises(ValueError, match="boom"):
        list(in_order(slow_first, iter(range(10))))


def test_in_order_keeps_its_threads_across_calls_and_leaves_none_of_its_calls_running() -> None:
    """The worker threads live as long as the process (polars compiles a regex once per
    thread); an error ends the iteration only once the calls still running have finished."""
    import threading
    import time

    from logtool.pipeline import in_order

    seen: set[threading.Thread] = set()  # the objects: an ident may be reused

    def where(i: int) -> int:
        seen.add(threading.current_thread())
        time.sleep(0.01)
        return i

    assert list(in_order(where, iter(range(6)))) == list(range(6))
    first = set(seen)
    assert list(in_order(where, iter(range(6)))) == list(range(6))
    assert seen == first and 1 <= len(first) <= 2

    finished: list[int] = []
    started = threading.Event()

    def slow_or_failing(i: int) -> int:
        if i == 1:  # fails once item 2 runs (submitted when item 0's result is taken)
            assert started.wait(10)
            raise ValueError("boom")
        if i == 2:
            started.set()
            time.sleep(0.3)
        finished.append(i)
        return i

    with pytest.raises(ValueError, match="boom"):
        list(in_order(slow_or_failing, iter(range(5))))
    assert 2 in finished  # in flight when item 1 failed: waited for, not left running

    def outer(i: int) -> list[list[int]]:  # called on a worker thread: threads of its own, twice
        return list(in_order(lambda j: list(in_order(lambda k: i * 100 + j * 10 + k, iter(range(2)))), iter(range(3))))

    assert list(in_order(outer, iter(range(4)))) == [
        [[i * 100 + j * 10 + k for k in range(2)] for j in range(3)] for i in range(4)
    ]


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 99])
def test_a_file_digest_read_in_chunks_equals_the_whole_files_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """The digest reads into one buffer again and again: the last, short read counts only the
    bytes it read (a 7-byte buffer here, so every size crosses or ends on a chunk edge)."""
    import logtool.inputs as inputs

    monkeypatch.setattr(inputs, "DIGEST_CHUNK", 7)
    data = bytes(range(256))[:size]
    path = tmp_path / "f.log"
    path.write_bytes(data)
    assert inputs.file_digest(path) == hashlib.sha256(data).hexdigest()
