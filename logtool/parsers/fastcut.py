"""The CLF family's fields cut in one compiled pass instead of the regex's capture engine.

A format regex that is a plain sequence of literals and field shapes (``[^ \\t]+``, a quoted
body, a CLF time, a status, a byte count, ``[0-9]+``, ending in ``[ \\t]*$``) and in which each
field's end is decided by the byte after it, is turned into a small program that
``_native.cut`` (C, :file:`logtool/_native.c`) runs over a batch's lines. It returns the named groups as
string columns that point into the batch's own bytes, null where the line does not match —
exactly what ``str.extract_groups(regex)`` returns (a property test holds the two equal).

Every other regex, and an install without the compiled module (no C compiler), uses the regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import polars as pl

from logtool import native

_QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
_SHAPES = {
    r"[^ \t]+": "N",
    r"[^ \t:]+": "V",
    r"[0-9]+": "D",
    r"[0-9]{3}|-": "S",
    r"[0-9]+|-": "B",
    r"[0-9]{1,2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}": "T",
    _QUOTED: "Q",
}
_NO_SLOT = 255
_META = set(".^$*+?()[]{}|\\")
_GROUP = re.compile(r"\(\?P<(\w+)>|\(\?:")  # a named group, or one that captures nothing


@dataclass(frozen=True)
class Plan:
    """A regex as a program for the compiled cutter, and the group names in slot order."""

    program: bytes
    names: tuple[str, ...]

    def only(self, names: tuple[str, ...]) -> Plan:
        """The same program capturing only ``names`` (the others are matched, not kept)."""
        slots = {self.names.index(n): k for k, n in enumerate(n for n in self.names if n in names)}
        out, pc, prog = bytearray(), 0, self.program
        while prog[pc : pc + 1] != b"E":
            if prog[pc : pc + 1] == b"L":
                out += prog[pc : pc + 2 + prog[pc + 1]]
                pc += 2 + prog[pc + 1]
            else:
                out += prog[pc : pc + 1] + bytes([slots.get(prog[pc + 1], _NO_SLOT)])
                pc += 2
        return Plan(bytes(out + b"E"), tuple(n for n in self.names if n in names))


def _shape_at(regex: str, i: int) -> tuple[str, int] | None:
    """The field shape that starts at ``regex[i]`` and its end, longest first."""
    for body in sorted(_SHAPES, key=len, reverse=True):
        if regex.startswith(body, i):
            return _SHAPES[body], i + len(body)
    return None


@cache
def plan(regex: str) -> Plan | None:
    """The program for ``regex``, or None when the cutter cannot read it exactly."""
    if not regex.startswith("^") or not regex.endswith(r"[ \t]*$"):
        return None
    body, i = regex[: -len(r"[ \t]*$")], 1
    ops: list[tuple[str, object]] = []  # ("L", bytes) or (shape, name | None)
    while i < len(body):
        if m := _GROUP.match(body, i):
            shape = _shape_at(body, m.end())
            if shape is None or not body.startswith(")", shape[1]):
                return None
            if m.group(1) is None and shape[0] not in "NDQ":
                return None  # an alternation that captures nothing: not a plain field
            ops.append((shape[0], m.group(1)))
            i = shape[1] + 1
        elif body[i] == "[" and (shape := _shape_at(body, i)) is not None and shape[0] in "NDQV":
            ops.append((shape[0], None))
            i = shape[1]
        elif body[i] == "\\" and i + 1 < len(body) and body[i + 1] in _META:  # \< is a word boundary, not <
            ops.append(("L", body[i + 1].encode()))
            i += 2
        elif body[i] not in _META and body[i].isascii():
            ops.append(("L", body[i].encode()))
            i += 1
        else:
            return None
    ops = _merge_literals(ops)
    if not _deterministic(ops):
        return None
    names = tuple(str(v) for op, v in ops if op != "L" and v is not None)
    if len(names) != len(set(names)) or len(names) > 32:
        return None
    program = bytearray()
    slot = 0
    for op, v in ops:
        if op == "L":
            assert isinstance(v, bytes)
            for k in range(0, len(v), 255):
                chunk = v[k : k + 255]
                program += b"L" + bytes([len(chunk)]) + chunk
        else:
            program += op.encode() + bytes([_NO_SLOT if v is None else slot])
            slot += v is not None
    return Plan(bytes(program + b"E"), names)


def _merge_literals(ops: list[tuple[str, object]]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for op, v in ops:
        if op == "L" and out and out[-1][0] == "L":
            out[-1] = ("L", out[-1][1] + v)  # type: ignore[operator]
        else:
            out.append((op, v))
    return out


def _deterministic(ops: list[tuple[str, object]]) -> bool:
    """Each field's end is decided by the next byte: what follows a field cannot continue it."""
    for k, (op, _v) in enumerate(ops):
        if op == "L":
            continue
        nxt = ops[k + 1] if k + 1 < len(ops) else ("E", None)
        first = nxt[1][:1] if nxt[0] == "L" else None  # type: ignore[index]
        if nxt[0] not in ("L", "E"):
            return False  # two fields side by side
        if op == "N" and first not in (None, b" ", b"\t"):
            return False
        if op == "V" and first not in (None, b" ", b"\t", b":"):
            return False
        if op in "DB" and first is not None and first.isdigit():
            return False
        if op == "Q" and first != b'"':
            return False
    return True


def cut(lines: pl.Series, p: Plan, clean: frozenset[str] = frozenset(), times: bool = False) -> pl.DataFrame | None:
    """The named groups of ``p`` for every line (null where a line does not match), or None
    when the compiled cutter is missing or the lines are not in the layout it reads. The groups
    named in ``clean`` come cleaned up as :func:`logtool.parsers.normalise.clean_up` would: "-"
    and "" null, Apache's escapes undone. ``times``: a ``time`` group comes read, as ``ts`` and
    ``tz_offset_min`` (:func:`logtool.parsers.normalise.timestamp`), when it can be."""
    clean_up = dict.fromkeys(clean, native.CLEAN)
    return native.cut_fields(lines, p.program, p.names, clean=clean_up, times="time" if times else None)
