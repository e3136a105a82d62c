"""Compile Apache ``LogFormat`` and nginx ``log_format`` strings into one anchored regex.

Each directive we understand becomes a named group (``client``, ``time``, ``request`` ...);
the rest become anonymous groups, so any format still parses. The regex runs vectorised in
polars (``str.extract_groups``), so it must stay within Rust regex syntax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from logtool.errors import ConfigError
from logtool.parsers.variants import LOOSE_REQUEST, LOOSE_TAIL, LOOSE_TAIL_REWRITE

QUOTED = r'[^"\\]*(?:\\.[^"\\]*)*'
# ASCII classes only: Rust's Unicode \S, \d and \s make much larger automata (~20% slower).
TIME_CLF = r"[0-9]{1,2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
NUM = r"-|[0-9]+(?:\.[0-9]+)?"
TOKEN = r"[^ \t]+"

#: A host name (or bracketed IPv6 literal) without a port, or nothing: a virtual host that begins
#: the line and is followed by a blank (nginx's ``$host``, which it logs as nothing when empty).
HOST_FIRST = r"\[[0-9A-Fa-f:.]+\]|[^ \t:\[]*"

#: Unquoted patterns for fields whose shape we know.
_UNQUOTED = {
    "time": r"\[(?P<time>" + TIME_CLF + r")\]",
    "time_local": r"(?P<time>" + TIME_CLF + r")",
    "time_iso": r"(?P<time_iso>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2}))",
    "msec": r"(?P<msec>[0-9]+(?:\.[0-9]+)?)",
    "status": r"(?P<status>[0-9]{3}|-)",
    "bytes": r"(?P<bytes>[0-9]+|-)",
    "rt_s": r"(?P<rt_s>" + NUM + ")",
    "rt_ms": r"(?P<rt_ms>" + NUM + ")",
    "rt_us": r"(?P<rt_us>" + NUM + ")",
    "upstream_rt": r"(?P<upstream_rt>-|[0-9.]+(?:(?:, | : )[0-9.]+|, -)*)",
}

APACHE_FIELDS = {
    "h": "client",
    "a": "client",
    "l": "ident",
    "u": "user",
    "t": "time",
    "r": "request",
    "s": "status",
    "b": "bytes",
    "B": "bytes",
    "O": "bytes",
    "v": "vhost",
    "V": "vhost",
    "D": "rt_us",
    "T": "rt_s",
}
APACHE_HEADERS = {"referer": "referrer", "user-agent": "ua", "x-forwarded-for": "xff", "host": "vhost"}

NGINX_FIELDS = {
    "remote_addr": "client",
    "realip_remote_addr": "client",
    "remote_user": "user",
    "time_local": "time_local",
    "time_iso8601": "time_iso",
    "msec": "msec",
    "request": "request",
    "status": "status",
    "body_bytes_sent": "bytes",
    "bytes_sent": "bytes",
    "http_referer": "referrer",
    "http_user_agent": "ua",
    "http_x_forwarded_for": "xff",
    "host": "vhost",
    "server_name": "vhost",
    "http_host": "vhost",
    "request_time": "rt_s",
    "upstream_response_time": "upstream_rt",
}


@dataclass(frozen=True)
class CompiledFormat:
    """A format string turned into regexes.

    ``regex`` captures the fields we understand as named groups (``fields``), for parsing.
    ``rewrite_regex`` captures *every* field as ``f0``, ``f1``, ... and the trailing blanks as
    ``tail``; with ``pieces`` (literal text or the semantic name of the field at that place)
    a line can be rebuilt exactly, with chosen fields transformed (``logtool anonymize``).
    """

    source: str
    regex: str
    fields: frozenset[str]
    rewrite_regex: str = ""
    pieces: tuple[tuple[str, str], ...] = ()  # ("lit", text) | ("field", name or "_")
    #: The same with the variants servers write (:mod:`logtool.parsers.variants`): blanks
    #: before the first field, unquoted trailing fields (group ``extra``), a raw ``"`` inside
    #: the request; the rewrite form captures the leading blanks as ``lead``.
    loose_regex: str = ""
    loose_rewrite_regex: str = ""


def _field_pattern(field: str, quoted: bool, stop: str) -> str:
    group = "time" if field == "time_local" else field
    if quoted:
        return f"(?P<{group}>{QUOTED})"
    if field in _UNQUOTED:
        return _UNQUOTED[field]
    return f"(?P<{group}>{_token(stop)})"


def _token(stop: str) -> str:
    """An unquoted token: no whitespace, and not the literal character that follows it."""
    if stop and not stop.isspace():
        return "[^ \\t" + ("\\" + stop if stop in "]\\^-[" else stop) + "]+"
    return TOKEN


_META = set("\\.+*?()|[]{}^$")


def rx_escape(text: str) -> str:
    """Escape a literal for Rust's regex syntax (Python's ``re.escape`` over-escapes)."""
    return "".join("\\" + c if c in _META else c for c in text)


def _unnamed(pattern: str) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", pattern)


def _assemble(source: str, parts: list[tuple[str, str | None]]) -> CompiledFormat:
    """``parts`` alternates literals (``("lit", text)``) and fields (``("field", name)``)."""
    out: list[str] = ["^"]
    rewrite: list[str] = ["^"]
    loose: list[str] = ["^[ \\t]*"]
    loose_rw: list[str] = ["^(?P<lead>[ \\t]*)"]
    pieces: list[tuple[str, str]] = []
    seen: set[str] = set()
    n_field = 0
    for i, (kind, value) in enumerate(parts):
        if kind == "lit":
            for rx in (out, rewrite, loose, loose_rw):
                rx.append(rx_escape(value or ""))
            pieces.append(("lit", value or ""))
            continue
        prev = parts[i - 1][1] if i > 0 and parts[i - 1][0] == "lit" else ""
        nxt = parts[i + 1][1] if i + 1 < len(parts) and parts[i + 1][0] == "lit" else ""
        quoted = bool(prev) and prev.endswith('"') and bool(nxt) and nxt.startswith('"')
        stop = (nxt or "")[:1]
        field = value or "_"
        group = "time" if field == "time_local" else field
        if field == "_" or group in seen:
            pattern = f"(?:{QUOTED})" if quoted else f"(?:{_token(stop)})"
            field = "_"
        else:
            seen.add(group)
            pattern = _field_pattern(field, quoted, stop)
            if i == 0 and group == "vhost" and not quoted and stop == " ":
                pattern = f"(?P<vhost>{HOST_FIRST})"
        # the loose reading anchors a quoted request on its protocol, not on the quotes
        loose_pattern = f"(?P<request>{LOOSE_REQUEST})" if quoted and field == "request" else pattern
        out.append(pattern)
        loose.append(loose_pattern)
        rewrite.append(f"(?P<f{n_field}>{_unnamed(pattern)})")
        loose_rw.append(f"(?P<f{n_field}>{_unnamed(loose_pattern)})")
        pieces.append(("field", group if field != "_" else "_"))
        n_field += 1
    out.append(r"[ \t]*$")
    rewrite.append(r"(?P<tail>[ \t]*)$")
    loose.append(LOOSE_TAIL)
    loose_rw.append(LOOSE_TAIL_REWRITE)
    return CompiledFormat(source, "".join(out), frozenset(seen), "".join(rewrite), tuple(pieces), "".join(loose),
                          "".join(loose_rw))  # fmt: skip


_APACHE_TOKEN = re.compile(r"%(?:[<>]?)(?:!?\d{3}(?:,\d{3})*)?(?:\{([^}]*)\})?([<>]?)([a-zA-Z%])")


def compile_apache(fmt: str) -> CompiledFormat:
    """Compile an Apache ``LogFormat`` string (``%h %l %u %t "%r" %>s %b`` ...)."""
    fmt = fmt.replace('\\"', '"')
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _APACHE_TOKEN.finditer(fmt):
        if m.start() > pos:
            parts.append(("lit", fmt[pos : m.start()]))
        arg, letter = m.group(1), m.group(3)
        pos = m.end()
        if letter == "%":
            parts.append(("lit", "%"))
            continue
        if letter == "i" and arg is not None:
            parts.append(("field", APACHE_HEADERS.get(arg.lower())))
        elif letter == "T" and arg:
            parts.append(("field", {"ms": "rt_ms", "us": "rt_us", "s": "rt_s"}.get(arg)))
        elif letter == "t" and arg or letter == "a" and arg and arg != "c":
            parts.append(("field", None))
        else:
            parts.append(("field", APACHE_FIELDS.get(letter)))
    if pos < len(fmt):
        parts.append(("lit", fmt[pos:]))
    if not any(k == "field" for k, _ in parts):
        raise ConfigError(f"log format has no % directives: {fmt!r}")
    return _assemble(fmt, _merge_literals(parts))


_NGINX_TOKEN = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


def compile_nginx(fmt: str) -> CompiledFormat:
    """Compile an nginx ``log_format`` string (``$remote_addr - $remote_user ...``)."""
    parts: list[tuple[str, str | None]] = []
    pos = 0
    for m in _NGINX_TOKEN.finditer(fmt):
        if m.start() > pos:
            parts.append(("lit", fmt[pos : m.start()]))
        name = m.group(1) or m.group(2)
        parts.append(("field", NGINX_FIELDS.get(name)))
        pos = m.end()
    if pos < len(fmt):
        parts.append(("lit", fmt[pos:]))
    if not any(k == "field" for k, _ in parts):
        raise ConfigError(f"nginx log format has no $variables: {fmt!r}")
    return _assemble(fmt, _merge_literals(parts))


def _merge_literals(parts: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for kind, value in parts:
        if kind == "lit" and out and out[-1][0] == "lit":
            out[-1] = ("lit", (out[-1][1] or "") + (value or ""))
        else:
            out.append((kind, value))
    return out
