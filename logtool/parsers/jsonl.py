"""JSON-lines access logs: Caddy, Traefik JSON, Google Cloud load balancer, nginx JSON, any mapping.

Fields are taken by key name with vectorised regexes, not by a JSON parser: polars' JSON
readers fail a whole batch on a single invalid line, and nginx's default escaping writes
``\\xHH``, which is not JSON at all. A key is found wherever it stands (nested objects, arrays
such as Caddy's ``"User-Agent":["…"]``), first occurrence; a line without the format's required
keys is quarantined with its reason.

Two paths give the same values: lines of a key layout learned from the batch
(:mod:`logtool.parsers.jsontpl`) are read by one anchored regex each, several times faster;
any other line is searched key by key (:func:`value_rx`). String values are then unescaped
(``\\u0026`` → ``&``); control characters stay escaped, as in the CLF family.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import polars as pl

from logtool.errors import ConfigError
from logtool.parsers.base import LayoutRewriter, Rewriter, Stateless
from logtool.parsers.jsontpl import Template, learn
from logtool.parsers.layout import Layout
from logtool.parsers.normalise import normalise, timestamp
from logtool.pipeline import ENGINE

#: Canonical field → what ``logtool anonymize`` does to it (the rest is kept as logged).
ANON_FIELDS = {
    "client_ip": "client", "remote_user": "user", "request": "request", "uri": "target", "referrer": "referrer",
    "user_agent": "ua", "xff": "xff", "vhost": "vhost",
}  # fmt: skip

#: Layouts learned per batch before the remaining lines are searched key by key.
MAX_TEMPLATES = 8
#: Lines tried (in order) to learn the next layout from.
LEARN_FROM = 16

#: Fields of which an access-log entry has at least one.
_REQUEST_FIELDS = ("client_ip", "request", "method", "status")

#: Canonical field → the group name the CLF normaliser understands.
TARGETS = {
    "ts": "time_iso", "time_local": "time", "ts_epoch": "msec", "client_ip": "client", "remote_user": "user",
    "request": "request", "method": "method_s", "uri": "target_s", "status": "status", "bytes": "bytes",
    "referrer": "ua_referrer", "user_agent": "ua", "xff": "xff", "vhost": "vhost", "request_time_s": "rt_s",
    "request_time_ms": "rt_ms", "request_time_ns": "rt_ns", "latency": "latency", "protocol": "proto",
}  # fmt: skip


def value_rx(key: str) -> str:
    """The raw value of ``"key": …`` (a string with its quotes, a number, or an array's first
    string), as one capture group."""
    k = "".join("\\" + c if c in "\\.+*?()|[]{}^$" else c for c in key)
    # the same unrolled string loop and ASCII blanks as the CLF patterns
    return rf'"{k}"[ \t]*:[ \t]*\[?[ \t]*("[^"\\]*(?:\\.[^"\\]*)*"|[^,}}\] \t]+)'


_ESCAPE = re.compile(r'(?:\\u[0-9a-fA-F]{4})+|\\["\\/]')


def _decode(escapes: re.Match[str]) -> str:
    text = escapes.group()
    if text[1] != "u":
        return text[1]
    chars = json.loads(f'"{text}"').encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    # control characters stay escaped, as the CLF family keeps them: no line breaks in a value
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in chars)


def unescape(values: pl.Series) -> pl.Series:
    """JSON string escapes undone: ``\\"``, ``\\\\``, ``\\/`` and printable ``\\uXXXX`` (Go writes
    ``&`` as ``\\u0026``). Control characters and nginx's ``\\xHH`` stay as logged. Only values
    with a backslash are touched, each distinct one once."""
    has = values.str.contains("\\", literal=True).fill_null(False)
    if not has.any():
        return values
    escaped = values.filter(has).unique()
    plain = pl.Series([_ESCAPE.sub(_decode, v) for v in escaped], dtype=pl.String)
    return values.replace(escaped, plain)


def _clean(raw: pl.Series) -> pl.Series:
    """A searched raw value: a JSON string loses its quotes, ``null`` becomes null."""
    quoted = raw.str.starts_with('"') & raw.str.ends_with('"') & (raw.str.len_bytes() >= 2)
    inner = raw.str.slice(1, raw.str.len_chars() - 2)
    return pl.select(pl.when(quoted).then(inner).when(raw != "null").then(raw)).to_series().alias(raw.name)


@dataclass(frozen=True)
class JsonFormat(Stateless):
    """A JSON-lines format: canonical field → candidate keys (first found wins)."""

    name: str
    keys: dict[str, tuple[str, ...]]
    required: tuple[str, ...]  # canonical fields a line must have
    description: str = ""
    sample: str = ""
    signature: tuple[str, ...] = field(default=())  # keys that identify the format in detection
    loose: frozenset[str] = frozenset()  # objects whose keys vary line by line (maps of headers)

    def _wanted(self) -> frozenset[str]:
        return frozenset(k for candidates in self.keys.values() for k in candidates)

    def _templates(
        self, frame: pl.DataFrame, rewrite: bool = False
    ) -> tuple[list[tuple[Template, pl.DataFrame]], pl.DataFrame]:
        """Learn key layouts from ``frame``'s lines and cut it into the lines of each layout
        (with their values, or with their segments for ``rewrite``) and the rest."""
        wanted, columns, found = self._wanted(), frame.columns, []
        for _ in range(MAX_TEMPLATES):
            tpl = next(
                (t for ln in frame["line"].head(LEARN_FROM) if (t := learn(ln, wanted, self.loose))), None
            ) if frame.height else None  # fmt: skip
            if tpl is None:
                break
            regex, first = (tpl.rewrite()[0], "s0") if rewrite else (tpl.regex, next(iter(tpl.groups)))
            got = (
                frame.lazy()
                .with_columns(pl.col("line").str.extract_groups(regex).alias("_g"))
                .unnest("_g")
                .collect(engine=ENGINE)
            )
            hit = pl.col(first).is_not_null()  # the first group takes part in every match
            matched = got.filter(hit)
            if matched.height == 0:  # the key was spelled differently in the line: give up
                break
            found.append((tpl, matched))
            frame = got.filter(~hit).select(columns)
        return found, frame

    def raw_values(self, batch: pl.DataFrame) -> pl.DataFrame:
        """``line_no``, ``line`` and each wanted key's raw value (column ``"key:" + key``).

        Lines whose layout matches a learned template (:mod:`logtool.parsers.jsontpl`) take every
        value in one regex pass; the rest, and keys a template skips over, are searched key by key.
        """
        wanted = self._wanted()
        found, rest = self._templates(batch.select("line_no", "line"))
        parts = []
        for tpl, matched in found:
            matched = matched.rename({g: "key:" + k for g, k in tpl.groups.items()}).with_columns(
                pl.when(pl.col(c) != "null").then(pl.col(c)).alias(c)
                for g, k in tpl.groups.items()
                if g not in tpl.strings and (c := "key:" + k)
            )
            parts.append(_search(matched, (wanted - set(tpl.groups.values())) if tpl.skips else set()))
        parts.append(_search(rest, wanted))
        cols = ["line_no", "line", *("key:" + k for k in sorted(wanted))]
        out = pl.concat(
            [p.select(c if c in p.columns else pl.lit(None, pl.String).alias(c) for c in cols) for p in parts]
        )
        if batch["line"].str.contains("\\", literal=True).any():  # else no value has an escape
            out = out.with_columns(unescape(out[c]) for c in cols[2:])
        return out.sort("line_no") if len(parts) > 1 else out

    def rewriter(self) -> Rewriter:
        return LayoutRewriter(self.cut)

    def cut(self, lines: pl.Series) -> tuple[list[Layout], pl.Series]:
        """``logtool anonymize``: the lines of each learned key layout cut into segments (values
        as the anonymiser's fields, the rest as gaps), and the positions of the other lines."""
        frame = pl.DataFrame({"_i": pl.int_range(lines.len(), dtype=pl.UInt32, eager=True), "line": lines})
        found, rest = self._templates(frame, rewrite=True)
        canon = {k: c for c, keys in self.keys.items() for k in keys}

        def kind(tpl: Template, segment: str) -> str:
            if segment == "gap":
                return "jsongap"
            field = ANON_FIELDS.get(canon[tpl.groups[segment]], "lit")
            return ("json:" if segment in tpl.strings else "bare:") + field

        out = []
        for tpl, matched in found:
            _, kinds = tpl.rewrite()
            segments = matched.select(f"s{i}" for i in range(len(kinds)))
            out.append(Layout(matched["_i"], segments, tuple(kind(tpl, k) for k in kinds)))
        return out, rest["_i"]

    def _extract(self) -> list[pl.Expr]:
        exprs = []
        for canon, candidates in self.keys.items():
            found = [pl.col("key:" + k) for k in candidates]
            exprs.append((pl.coalesce(found) if len(found) > 1 else found[0]).alias(TARGETS[canon]))
        return exprs

    def match_rate(self, lines: pl.Series) -> float:
        lines = lines.filter(lines.str.len_bytes() > 0)
        if lines.len() == 0:
            return 0.0
        ok = lines.str.starts_with("{")
        for k in self.signature or tuple(self.keys[self.required[0]]):
            ok = ok & lines.str.contains(f'"{k}"', literal=True)
        return float(ok.mean() or 0.0)

    def parse(self, batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        fields = frozenset(TARGETS[c] for c in self.keys)
        present = [pl.col(TARGETS[c]).is_not_null() for c in self.required]
        # a JSON message of the server itself (Caddy's "upstream unhealthy"): no request in it
        request = [pl.col(TARGETS[c]).is_not_null() for c in _REQUEST_FIELDS if c in self.keys]
        reason = (
            pl.when(pl.col("line").str.len_bytes() == 0)
            .then(pl.lit("empty line"))
            .when(~pl.col("line").str.strip_chars_start().str.starts_with("{"))
            .then(pl.lit(f"not a JSON object (format {self.name})"))
            .when(~pl.any_horizontal(request) if request else pl.lit(False))
            .then(pl.lit(f"not an access-log line (a JSON message without a request, format {self.name})"))
            .when(~pl.col("_present"))
            .then(pl.lit(f"missing {'/'.join(self.required)} (format {self.name})"))
            .when(pl.col("ts").is_null())
            .then(pl.lit("unreadable timestamp"))
        )
        lf = self.raw_values(batch).lazy().with_columns(self._extract()).with_columns(_derived(fields))
        durations = {"rt_s", "rt_ns", "latency"} & fields
        norm_fields = (fields - {"rt_ns", "latency"}) | ({"rt_s"} if durations else set())
        lf = (
            lf.with_columns(pl.all_horizontal(present).alias("_present"))
            .with_columns(_time_guards(fields))
            .with_columns(_any_timestamp(fields))
            .with_columns(reason.alias("_reason"))
        )
        out = normalise(lf.with_columns(pl.col("ua_referrer").alias("referrer")) if "ua_referrer" in fields else lf,
                         norm_fields | ({"referrer"} if "ua_referrer" in fields else set()), unescaped=True)  # fmt: skip
        out = out.collect(engine=ENGINE)
        ok = pl.col("_reason").is_null()
        rejects = out.filter(~ok).select("line_no", "line", pl.col("_reason").alias("reason"))
        return out.filter(ok).drop("line", "_reason"), rejects


def _search(frame: pl.DataFrame, keys: set[str]) -> pl.DataFrame:
    """The raw values of ``keys``, searched key by key (the definition a template agrees with)."""
    if not keys or frame.height == 0:
        return frame
    found = [pl.col("line").str.extract(value_rx(k), 1).alias("key:" + k) for k in sorted(keys)]
    frame = frame.lazy().with_columns(found).collect(engine=ENGINE)
    return frame.with_columns(_clean(frame["key:" + k]) for k in keys)


def _time_guards(fields: frozenset[str]) -> list[pl.Expr]:
    """One key read both as ISO 8601 and as epoch seconds (Caddy's ``ts``): each reading gets
    only the values it can parse (a failing ISO parse of every epoch value is costly)."""
    if not {"time_iso", "msec"} <= fields:
        return []
    iso = pl.col("time_iso").str.contains("-", literal=True)
    epoch = ~pl.col("msec").str.contains("-", literal=True)
    return [pl.when(iso).then(pl.col("time_iso")).alias("time_iso"), pl.when(epoch).then(pl.col("msec")).alias("msec")]


def _any_timestamp(fields: frozenset[str]) -> list[pl.Expr]:
    """``ts`` and ``tz_offset_min`` from whichever time field a line has (ISO, CLF, epoch)."""
    sources = [timestamp(frozenset({f})) for f in ("time_iso", "time", "msec") if f in fields]
    return [
        pl.coalesce([s[0] for s in sources]).alias("ts"),
        pl.coalesce([s[1] for s in sources]).alias("tz_offset_min"),
    ]


def _derived(fields: frozenset[str]) -> list[pl.Expr]:
    """Durations in other units → seconds; a protocol logged apart is appended to the request."""
    out = []
    rt = []
    if "rt_ns" in fields:
        rt.append(pl.col("rt_ns").cast(pl.Float64, strict=False) / 1e9)
    if "latency" in fields:  # Google: "0.012345s"
        rt.append(pl.col("latency").str.strip_suffix("s").cast(pl.Float64, strict=False))
    if "rt_s" in fields:
        rt.insert(0, pl.col("rt_s").cast(pl.Float64, strict=False))
    if rt:
        out.append(pl.coalesce(rt).cast(pl.String).alias("rt_s"))
    if "proto" in fields and "target_s" in fields:
        out.append(
            pl.concat_str([pl.col("target_s"), pl.lit(" ") + pl.col("proto")], ignore_nulls=True).alias("target_s")
        )
    return out


CADDY = JsonFormat(
    "caddy",
    {
        "ts_epoch": ("ts",), "ts": ("ts",), "client_ip": ("client_ip", "remote_ip"), "remote_user": ("user_id",),
        "method": ("method",), "uri": ("uri",), "protocol": ("proto",), "vhost": ("host",),
        "user_agent": ("User-Agent",), "referrer": ("Referer",), "status": ("status",), "bytes": ("size",),
        "request_time_s": ("duration",),
    },
    required=("ts_epoch", "client_ip"),
    description="Caddy JSON access log",
    sample='{"level":"info","ts":1795773600.52,"logger":"http.log.access","msg":"handled request","request":'
    '{"remote_ip":"203.0.113.7","remote_port":"41342","client_ip":"203.0.113.7","proto":"HTTP/2.0","method":"GET",'
    '"host":"example.org","uri":"/","headers":{"User-Agent":["curl/8.5.0"]}},"bytes_read":0,"user_id":"",'
    '"duration":0.000929675,"size":10900,"status":200,"resp_headers":{"Server":["Caddy"]}}',
    signature=("remote_ip", "logger"),
    loose=frozenset({"headers", "resp_headers"}),
)  # fmt: skip

TRAEFIK_JSON = JsonFormat(
    "traefik_json",
    {
        "ts": ("StartUTC",), "client_ip": ("ClientHost",), "remote_user": ("ClientUsername",),
        "method": ("RequestMethod",), "uri": ("RequestPath",), "protocol": ("RequestProtocol",),
        "vhost": ("RequestHost",), "user_agent": ("request_User-Agent",), "referrer": ("request_Referer",),
        "xff": ("request_X-Forwarded-For",), "status": ("DownstreamStatus",), "bytes": ("DownstreamContentSize",),
        "request_time_ns": ("Duration",),
    },
    required=("ts", "client_ip"),
    description="Traefik JSON access log",
    sample='{"ClientAddr":"203.0.113.7:54321","ClientHost":"203.0.113.7","ClientUsername":"-",'
    '"DownstreamContentSize":512,"DownstreamStatus":200,"Duration":1234567,"RequestHost":"example.org",'
    '"RequestMethod":"GET","RequestPath":"/","RequestProtocol":"HTTP/1.1","StartUTC":"2026-11-24T10:00:00.123456789Z",'
    '"request_User-Agent":"curl/8.5.0"}',
    signature=("ClientHost", "RequestMethod"),
)  # fmt: skip

GCP_LB = JsonFormat(
    "gcp_lb",
    {
        "ts": ("timestamp",), "client_ip": ("remoteIp",), "method": ("requestMethod",), "uri": ("requestUrl",),
        "protocol": ("protocol",), "status": ("status",), "bytes": ("responseSize",), "user_agent": ("userAgent",),
        "referrer": ("referer",), "latency": ("latency",),
    },
    required=("ts", "client_ip"),
    description="Google Cloud HTTP(S) load balancer log (JSON)",
    sample='{"httpRequest":{"requestMethod":"GET","requestUrl":"https://example.org/","requestSize":"77",'
    '"status":200,"responseSize":"512","userAgent":"curl/8.5.0","remoteIp":"203.0.113.7:51234",'
    '"serverIp":"10.0.0.5","latency":"0.012345s","protocol":"HTTP/1.1"},"timestamp":"2026-11-24T10:00:00.123456Z",'
    '"resource":{"type":"http_load_balancer"}}',
    signature=("httpRequest", "remoteIp"),
)  # fmt: skip

NGINX_JSON = JsonFormat(
    "nginx_json",
    {
        "ts": ("time_iso8601", "@timestamp"), "time_local": ("time_local",), "ts_epoch": ("msec",),
        "client_ip": ("remote_addr",), "remote_user": ("remote_user",), "request": ("request",),
        "status": ("status",), "bytes": ("body_bytes_sent", "bytes_sent"), "referrer": ("http_referer",),
        "user_agent": ("http_user_agent",), "xff": ("http_x_forwarded_for",), "vhost": ("host", "server_name"),
        "request_time_s": ("request_time",),
    },
    required=("client_ip", "request"),
    description="nginx log_format … escape=json (or default escaping with \\xHH)",
    sample='{"time_iso8601":"2026-11-24T10:00:00+01:00","remote_addr":"203.0.113.7","remote_user":"",'
    '"request":"GET / HTTP/1.1","status":"200","body_bytes_sent":"512","http_referer":"",'
    '"http_user_agent":"curl/8.5.0","request_time":"0.004"}',
    signature=("remote_addr", "request"),
)  # fmt: skip

FORMATS = (CADDY, TRAEFIK_JSON, GCP_LB, NGINX_JSON)


def json_map_format(spec: str) -> JsonFormat:
    """``--json-map ts=time,client_ip=remote_addr,…``: canonical field = JSON key."""
    keys: dict[str, tuple[str, ...]] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        canon, _, key = part.partition("=")
        canon, key = canon.strip(), key.strip()
        if canon not in TARGETS or not key:
            known = ", ".join(sorted(TARGETS))
            raise ConfigError(f"--json-map: {part!r} is not FIELD=KEY with FIELD one of: {known}")
        keys[canon] = (*keys.get(canon, ()), key)
    time_fields = [c for c in ("ts", "time_local", "ts_epoch") if c in keys]
    if not time_fields or "client_ip" not in keys:
        raise ConfigError("--json-map needs a time (ts=, time_local= or ts_epoch=) and client_ip=")
    return JsonFormat("json-map", keys, required=(time_fields[0], "client_ip"), description="user --json-map")
