"""Access lines as servers really write them: what a format's strict regex rejects and a second,
looser reading recovers. Only rejected lines are read again, so well-formed files pay nothing.

* **A syslog prefix** (rsyslog, journald, RFC 3164 and 5424: ``Nov 24 09:00:00 web1 nginx: …``,
  ``2026-11-24T09:00:00+01:00 web1 nginx[42]: …``) is stripped, then the line is read again.
* **Blanks before the first field** (an nginx ``$host`` that was empty) are skipped.
* **Trailing fields** after the last known one (``$request_time``, ``$upstream_response_time``
  …, unquoted) are read past; they stay in the line (``logtool anonymize`` masks them).
* **A raw ``"`` inside the request** (old servers, Traefik; attack lines especially): the request
  is anchored on its protocol and the status after it instead of on the quotes.

Each recovered record names its variant in the column ``_variant`` (null for a line the strict
regex read), which ingest counts per file. The loose regexes come from the format string
(:mod:`logtool.parsers.formatstr`); a format without them only gets the syslog rule.

Lines that are not access-log lines at all (HAProxy's "Connect from" and "Proxy … started"
notices, a JSON or ``key=value`` application message in a CLF file) are told apart, so their
quarantine reason says so (:func:`not_access_log`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import polars as pl

_PRI = r"(?:<[0-9]{1,3}>)?"
_RFC3164_TIME = r"[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
_RFC3339_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
#: ``TIME HOST TAG[PID]: `` (RFC 3164, rsyslog's RFC 3339 timestamps, journalctl's short
#: formats) or ``<PRI>1 TIME HOST APP PROCID MSGID SD `` (RFC 5424).
SYSLOG_PREFIX = (
    rf"^(?:{_PRI}(?:{_RFC3164_TIME}|{_RFC3339_TIME}) [^ \t]+ [A-Za-z0-9_./@-]{{1,64}}(?:\[[0-9]+\])?: "
    rf"|<[0-9]{{1,3}}>1 {_RFC3339_TIME} [^ \t]+ [^ \t]+ [^ \t]+ [^ \t]+ (?:-|\[[^\]]*\])+ )"
)
_SYSLOG_PY = re.compile(SYSLOG_PREFIX)

#: A quoted request read up to its protocol, whatever quotes it holds.
LOOSE_REQUEST = r"[A-Z][A-Z0-9_-]{0,31} .*? HTTP/[0-9](?:\.[0-9])?"
#: Unquoted trailing fields (group ``extra``) and the blanks after them.
LOOSE_TAIL = r'(?:[ \t]+(?P<extra>[^" \t][^"]*?))?[ \t]*$'
LOOSE_TAIL_REWRITE = r'(?P<extra>(?:[ \t]+[^" \t][^"]*?)?)(?P<tail>[ \t]*)$'

#: How much a recovered line counts in detection: a format that reads the line as written wins.
RECOVERED_WEIGHT = 0.9

SYSLOG, LEADING, TRAILING, RAW_QUOTE = "syslog prefix", "leading blank", "trailing fields", "raw quote in request"


def strip_syslog(lines: pl.Series) -> pl.Series:
    """``lines`` without a leading syslog prefix (the others unchanged)."""
    return lines.str.replace(SYSLOG_PREFIX, "")


def recoverable(lines: pl.Series, regex: str, loose: str) -> pl.Series:
    """Which of ``lines`` (rejected by ``regex``) a loose reading recovers."""
    stripped = strip_syslog(lines)
    hit = stripped.str.contains(regex)
    if loose:
        hit = hit | stripped.str.contains(loose)
    return hit.fill_null(False)


def match_rate(lines: pl.Series, regex: str, loose: str) -> float:
    """Detection score: lines the strict regex reads count 1, recovered lines
    :data:`RECOVERED_WEIGHT`."""
    lines = lines.filter(lines.str.len_bytes() > 0)
    if lines.len() == 0:
        return 0.0
    strict = lines.str.contains(regex)
    rest = lines.filter(~strict)
    recovered = int(recoverable(rest, regex, loose).sum()) if rest.len() else 0
    return (int(strict.sum()) + RECOVERED_WEIGHT * recovered) / lines.len()


def _labels(groups: pl.DataFrame) -> pl.Expr:
    """The ``_variant`` label of each recovered line (``groups``: its regex groups, ``_syslog``,
    ``_lead``)."""
    parts = [pl.when(pl.col("_syslog")).then(pl.lit(SYSLOG)), pl.when(pl.col("_lead")).then(pl.lit(LEADING))]
    if "extra" in groups.columns:
        parts.append(pl.when(pl.col("extra").is_not_null()).then(pl.lit(TRAILING)))
    if "request" in groups.columns:
        parts.append(pl.when(pl.col("request").str.contains(r'(?:^|[^\\])"')).then(pl.lit(RAW_QUOTE)))
    return pl.concat_str(parts, separator=", ", ignore_nulls=True).alias("_variant")


def recover(
    read: Callable[[pl.DataFrame, str], pl.DataFrame],
    regex: str,
    loose: str,
    records: pl.DataFrame,
    rejects: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Read the rejected lines that did not match (``rejects``: ``line_no``, ``line``, ``reason``)
    again: syslog prefix stripped, strict regex, then the loose one. ``read(batch, regex)``
    is the format's own reading (normalised records with ``line`` and ``_reason``). Returns the
    records with a ``_variant`` column, and the lines still rejected (as they were logged)."""
    records = records.with_columns(pl.lit(None, pl.String).alias("_variant"))
    todo = rejects.filter(pl.col("reason").str.starts_with("does not match"))
    if todo.height == 0:
        return records, rejects
    stripped = strip_syslog(todo.get_column("line"))
    batch = pl.DataFrame(
        {"line_no": todo.get_column("line_no"), "line": stripped, "_syslog": stripped != todo.get_column("line")}
    )
    found = []
    for rx in (regex, loose) if loose else (regex,):
        hit = batch.get_column("line").str.contains(rx)
        if not hit.any():
            continue
        lines = batch.filter(hit)
        got = read(lines.select("line_no", "line"), rx).filter(pl.col("_reason").is_null())
        if got.height:
            groups = lines.with_columns(
                pl.col("line").str.extract_groups(rx).alias("_g"), pl.col("line").str.contains("^[ \t]").alias("_lead")
            ).unnest("_g")
            labels = groups.select("line_no", _labels(groups))
            found.append(got.drop("line", "_reason").join(labels, on="line_no", how="left"))
        batch = batch.filter(~hit)
    if not found:
        return records, rejects
    done = pl.concat([f.get_column("line_no") for f in found])
    records = pl.concat([records, *found], how="vertical_relaxed").sort("line_no")
    return records, rejects.filter(~pl.col("line_no").is_in(done.implode()))


_JSON_LINE = re.compile(r"^\s*\{")
_KEY_VALUE = re.compile(r'^(?:time="[^"]*" )?level=[a-z]+ |^[a-z_]+=(?:"[^"]*"|\S+) level=[a-z]+ ')
_ANY_TIME = re.compile(r"\[[^\]]*\d{2}:\d{2}:\d{2}[^\]]*\]")


def not_access_log(line: str) -> str | None:
    """The quarantine reason for a line that is no access-log entry at all, else None."""
    m = _SYSLOG_PY.match(line)
    message = line[m.end() :] if m else line
    if _JSON_LINE.match(message):
        return "not an access-log line (a JSON message)"
    if _KEY_VALUE.match(message):
        return "not an access-log line (an application message)"
    if m and not _ANY_TIME.search(message):
        return "not an access-log line (a syslog notice)"
    return None
