"""Learned line templates: the fast path of the JSON-lines parser.

A JSON log is written by one program, so its lines share a few key layouts. From one line that
``json.loads`` accepts, :func:`learn` builds an anchored regex that spells that layout out key by
key — every wanted key's value is a capture group, everything else is skipped by type — so one
regex pass takes every field of every line with that layout. Such a fully specified, anchored
pattern is several times cheaper than one unanchored search per key.

Lines of another layout simply do not match and go on to the next learned template or to the
per-key search (:func:`logtool.parsers.jsonl.value_rx`), which stays the definition: a captured
value is exactly the text the per-key search finds for a line of that layout (same value
grammar, first occurrence of a key).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from logtool.parsers.formatstr import rx_escape

#: A JSON string as logged (escapes kept; ``\\xHH`` from nginx's default escaping included).
STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
#: A number, true, false or null — the scalar branch of the per-key value grammar.
SCALAR = r"[^,}\] \t]+"
#: The scalar branch for a template: never starts a string, object or array, which keeps the
#: pattern unambiguous (one-pass) and cheap to capture with.
_BARE = r'[^,}\] \t"{\[]+'
_WS = r"[ \t]*"
#: How deep a value skipped as "anything" (an array of objects, say) may nest before a line falls
#: back to the per-key search.
SKIP_DEPTH = 3


def _skip(depth: int) -> str:
    """Any JSON value nesting at most ``depth`` containers (one regex, no recursion)."""
    atom = rf'{STRING}|[^{{}}\[\]"]'
    if depth > 0:
        inner = _skip(depth - 1)
        atom += rf"|\{{(?:{inner})*\}}|\[(?:{inner})*\]"
    return atom


_ANY = rf"(?:{STRING}|{_BARE}|\{{(?:{_skip(SKIP_DEPTH - 1)})*\}}|\[(?:{_skip(SKIP_DEPTH - 1)})*\])"


@dataclass(frozen=True)
class Template:
    """One key layout as a sequence of pieces: ``(None, pattern)`` for structure,
    ``(group, pattern)`` for a wanted value; ``groups`` maps each group to its key.

    ``regex`` (parsing) captures the values; ``rewrite`` (``logtool anonymize``) captures the
    whole line, as segments ``s0, s1, …`` whose ``kinds`` are ``gap`` or a value's group.
    ``skips``: the layout skips over a container (or a wanted key holds one), so a wanted key
    without a group may still be somewhere in a line and must be searched for key by key.
    """

    pieces: tuple[tuple[str | None, str], ...]
    groups: dict[str, str]
    skips: bool
    #: groups holding a JSON string, captured without its quotes (the others: bare scalars)
    strings: frozenset[str] = frozenset()

    @property
    def regex(self) -> str:
        return "".join(p if g is None else f"(?P<{g}>{p})" for g, p in self.pieces)

    def rewrite(self) -> tuple[str, tuple[str, ...]]:
        out, kinds, gap = ["^"], [], []
        for group, pattern in (*self.pieces, (None, ".*")):
            if group is None:
                gap.append(pattern.removeprefix("^").removesuffix("$"))
                continue
            if gap:
                out.append(f"(?P<s{len(kinds)}>{''.join(gap)})")
                kinds.append("gap")
                gap.clear()
            out.append(f"(?P<s{len(kinds)}>{pattern})")
            kinds.append(group)
        out.append(f"(?P<s{len(kinds)}>{''.join(gap)})$")
        kinds.append("gap")
        return "".join(out), tuple(kinds)


class _Obj(list):
    """A JSON object as its (key, value) pairs, in order, duplicates kept."""


def _loads(line: str) -> object:
    """Parse a line keeping key order and duplicates; nginx's ``\\xHH`` read as ``\\u00HH``."""
    try:
        return json.loads(line.replace("\\x", "\\u00"), object_pairs_hook=_Obj)
    except ValueError:
        return None


def _keys_below(value: object) -> set[str]:
    if isinstance(value, _Obj):
        return {k for k, _ in value}.union(*(_keys_below(v) for _, v in value))
    if isinstance(value, list):
        return set().union(*(_keys_below(v) for v in value))
    return set()


def _array(items: list) -> str:
    """An array whose elements all have the first element's scalar type, or any array."""
    if all(isinstance(v, str) for v in items):
        elem = STRING
    elif not any(isinstance(v, (str, list)) for v in items):
        elem = _BARE
    else:
        return _ANY
    return rf"\[{_WS}(?:{elem}{_WS}(?:,{_WS}{elem}{_WS})*)?\]"  # one way to read each blank


def _map(pairs: _Obj) -> str:
    """A loose object (any keys) whose values share the shape of the ones in the sample."""
    shapes = {_shape(v) for _, v in pairs}
    value = shapes.pop() if len(shapes) == 1 else _ANY
    member = rf"{STRING}{_WS}:{_WS}{value}{_WS}"
    return rf"\{{{_WS}(?:{member}(?:,{_WS}{member})*)?\}}"


def _shape(value: object) -> str:
    """The pattern of a skipped value of ``value``'s type (objects inside a map: any object)."""
    if isinstance(value, str):
        return STRING
    if isinstance(value, _Obj):
        return _ANY
    if isinstance(value, list):
        return _array(value)
    return _BARE


def learn(line: str, wanted: frozenset[str], loose: frozenset[str] = frozenset()) -> Template | None:
    """The template of ``line``'s layout, or None when ``line`` is not a JSON object.

    Objects are spelled out key by key in the line's order, except the ``loose`` ones (maps whose
    keys vary from line to line, such as Caddy's ``headers``): those admit any keys whose values
    have the sample's shape. Arrays holding objects are skipped whatever they hold.
    """
    obj = _loads(line)
    if not isinstance(obj, _Obj) or not obj:
        return None
    groups: dict[str, str] = {}
    strings: set[str] = set()
    pieces: list[tuple[str | None, str]] = [(None, rf"^{_WS}\{{")]
    skips = False

    def spell(pairs: _Obj) -> None:
        nonlocal skips
        for n, (key, value) in enumerate(pairs):
            rx = ("," if n else "") + _WS + rx_escape(json.dumps(key, ensure_ascii=False)) + _WS + ":" + _WS
            first = key in wanted and key not in groups.values()
            if first and not isinstance(value, list):
                # the first occurrence of a wanted scalar: captured with the per-key grammar
                name = f"g{len(groups)}"
                groups[name] = key
                if isinstance(value, str):
                    strings.add(name)
                    pieces.extend([(None, rx + '"'), (name, STRING[1:-1]), (None, '"')])
                else:
                    pieces.extend([(None, rx), (name, _BARE)])
            elif isinstance(value, _Obj) and key in loose:
                pieces.append((None, rx + _map(value)))
                skips = True
            elif isinstance(value, _Obj):
                pieces.append((None, rx + r"\{"))
                spell(value)
                pieces.append((None, r"\}" if value else _WS + r"\}"))
            else:
                pieces.append((None, rx + _shape(value)))
                skips = skips or pieces[-1][1].endswith(_ANY)
            skips = skips or first and key not in groups.values()  # a wanted key holding a container
            pieces.append((None, _WS))

    spell(obj)
    if not groups:
        return None
    pieces.append((None, r"\}[ \t\r]*$"))
    return Template(tuple(pieces), groups, skips, frozenset(strings))
