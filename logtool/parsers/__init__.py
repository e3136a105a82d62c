"""Log formats: a registry of named formats, user format strings, and auto-detection.

A format follows :class:`~logtool.parsers.base.LineFormat`: ``match_rate(lines)`` for
detection, ``parser()`` and ``rewriter()`` build what works on one input. Families: the CLF
family and single-regex formats (:mod:`.clf`, :mod:`.more`), JSON lines (:mod:`.jsonl`), W3C
extended logs (:mod:`.w3c`); all end in the shared normaliser (:mod:`.normalise`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from logtool.errors import ConfigError, InputError
from logtool.inputs import LogInput, check_complete, iter_batches
from logtool.parsers.base import LineFormat, Parser, Rewriter

__all__ = ["LineFormat", "Parser", "Rewriter", "REGISTRY", "choose_format", "detect", "detect_first", "detect_input",
           "get_format", "custom_format", "register", "Detection"]  # fmt: skip
from logtool.parsers.clf import RegexFormat
from logtool.parsers.formatstr import compile_apache, compile_nginx

_S = '203.0.113.7 - - [24/Nov/2026:10:00:00 +0100] "GET /index.html HTTP/1.1" 200 512'
_C = _S + ' "https://example.org/" "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"'

#: Registered formats in detection order: when several match equally well, the first wins,
#: so more specific formats come first.
REGISTRY: dict[str, LineFormat] = {}


def register(fmt: LineFormat) -> LineFormat:
    REGISTRY[fmt.name] = fmt
    return fmt


register(
    RegexFormat(
        "vhost_combined",
        compile_apache('%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"'),
        "Apache vhost_combined: combined prefixed with virtual host and port",
        "www.example.org:443 " + _C,
    )
)
register(
    RegexFormat(
        "combined_xff",
        compile_nginx(
            '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
        ),
        "nginx 'main': combined plus a quoted X-Forwarded-For",
        _C + ' "198.51.100.4, 10.0.0.1"',
    )
)
register(
    RegexFormat(
        "host_combined",
        compile_nginx(
            '$host $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent"'
        ),
        "nginx: combined prefixed with $host (which may be empty)",
        "www.example.org " + _C,
    )
)
register(
    RegexFormat(
        "combined",
        compile_apache('%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"'),
        "Apache/nginx combined (the nginx default)",
        _C,
    )
)
register(
    RegexFormat(
        "common",
        compile_apache('%h %l %u %t "%r" %>s %b'),
        "Common Log Format (CLF)",
        _S,
    )
)

# Formats with a documented, fixed layout (AWS, proxies); after the CLF family.
from logtool.parsers.jsonl import FORMATS as _JSON  # noqa: E402
from logtool.parsers.jsonl import json_map_format  # noqa: E402
from logtool.parsers.more import FORMATS as _MORE  # noqa: E402
from logtool.parsers.w3c import FORMATS as _W3C  # noqa: E402

for _f in (*_MORE, *_JSON, *_W3C):
    register(_f)

# Conversation records (chat bot, call bot): a registry of their own, tried first by detect().
from logtool.parsers.conversations import CONV_REGISTRY, chat_map_format, detect_conversation, is_chat_map  # noqa: E402

#: Share of sampled non-empty lines a format must parse to be chosen automatically.
DETECT_THRESHOLD = 0.6
SAMPLE_LINES = 2000


def get_format(name: str) -> LineFormat:
    if name in CONV_REGISTRY:
        return CONV_REGISTRY[name]  # type: ignore[return-value]
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown format {name!r}; known formats: {', '.join([*REGISTRY, *CONV_REGISTRY])}") from None


def custom_format(
    log_format: str | None = None, nginx_format: str | None = None, json_map: str | None = None
) -> LineFormat | None:
    """A format from the user's Apache ``LogFormat``, nginx ``log_format`` or JSON key mapping."""
    if json_map:
        return chat_map_format(json_map) if is_chat_map(json_map) else json_map_format(json_map)  # type: ignore[return-value]
    if log_format:
        return RegexFormat("custom-apache", compile_apache(log_format), "user LogFormat")
    if nginx_format:
        return RegexFormat("custom-nginx", compile_nginx(nginx_format), "user nginx log_format")
    return None


_HOW = (
    "Name it with --format ({names}), or describe it with --log-format '<Apache LogFormat>', "
    "--nginx-format '<nginx log_format>' or, for JSON lines, --json-map ts=KEY,client_ip=KEY,…"
)


def detect(lines: pl.Series, source: str = "input") -> tuple[LineFormat, float]:
    """Choose the registered format that parses most of ``lines``; raise if none is good enough,
    or if two formats parse exactly as much (the registered formats are written so that this
    does not happen on their own logs: a tie means the lines fit neither well)."""
    sample = lines.head(SAMPLE_LINES)
    if (conv := detect_conversation(sample)) is not None:
        return conv  # type: ignore[return-value]
    scores = [(fmt.match_rate(sample), fmt) for fmt in REGISTRY.values()]
    best_rate = max((s for s, _ in scores), default=0.0)
    how = _HOW.format(names=", ".join(REGISTRY))
    if best_rate < DETECT_THRESHOLD:
        raise InputError(
            f"{source}: cannot detect the log format (best candidate parsed {best_rate:.0%} of "
            f"{sample.len()} sampled lines). {how}"
        )
    best = [fmt for rate, fmt in scores if rate == best_rate]
    if len(best) > 1:
        raise InputError(
            f"{source}: the log format is ambiguous ({' and '.join(f.name for f in best)} each parse "
            f"{best_rate:.0%} of {sample.len()} sampled lines). {how}"
        )
    return best[0], best_rate


def choose_format(
    name: str | None = None,
    log_format: str | None = None,
    nginx_format: str | None = None,
    json_map: str | None = None,
) -> LineFormat | None:
    """The format a user named (``--format``) or described (``--log-format``, ``--nginx-format``,
    ``--json-map``); None means: detect it."""
    if sum(x is not None for x in (name, log_format, nginx_format, json_map)) > 1:
        raise ConfigError("use only one of --format, --log-format, --nginx-format and --json-map")
    if name:
        return get_format(name)
    return custom_format(log_format, nginx_format, json_map)


def detect_first(lines: pl.Series, source: str = "input") -> tuple[LineFormat, float]:
    """:func:`detect` on the first lines of an input (empty lines do not count)."""
    nonempty = lines.filter(lines.str.len_bytes() > 0)
    if nonempty.len() == 0:
        raise InputError(f"{source}: the first {lines.len()} lines are empty; cannot detect the format")
    return detect(nonempty, source)


@dataclass
class Detection:
    """What :func:`detect_input` found for one input: a format and the share of a sample it
    parsed, ``empty``, or the error that says why no format was chosen."""

    name: str
    format: LineFormat | None = None
    rate: float = 0.0
    sampled: int = 0
    empty: bool = False
    error: InputError | None = None


def detect_input(inp: LogInput) -> Detection:
    """Detect the format of one input from its first lines (nothing is stored). A compressed
    file is read to its end: a truncated or corrupt one is an error, as ``ingest`` would find."""
    try:
        batch = next(iter_batches(inp, batch_bytes=1 << 20), None)
        if inp.compression != "none":
            check_complete(inp)
    except InputError as e:
        return Detection(inp.name, error=e)
    if batch is None:
        return Detection(inp.name, empty=True)
    lines = batch.get_column("line").head(SAMPLE_LINES)
    lines = lines.filter(lines.str.len_bytes() > 0)
    try:
        fmt, rate = detect_first(lines, inp.name)
    except InputError as e:
        return Detection(inp.name, sampled=lines.len(), error=e)
    return Detection(inp.name, fmt, rate, lines.len())
