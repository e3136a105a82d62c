"""Rewrite log lines in their own format with every personal field masked (``logtool anonymize``).

A line that matches the format is rebuilt from its literal separators and its fields, so it is
byte-for-byte identical except for:

* the client field → its network address (``203.0.113.0``, ``2001:db8:85a0::``; IPv4-mapped and
  NAT64 as the IPv4 they carry; ports and zone ids dropped), a hostname → its registrable domain;
* the user and ident fields → ``-``;
* X-Forwarded-For → every element masked like the client;
* the request target and the referrer → personal data redacted (:mod:`.redact`);
* the user agent and fields we do not know → every IP-looking token masked.

Formats without such a template (fixed-layout AWS/proxy logs, JSON lines, W3C) cut their
lines into segments instead (:mod:`logtool.parsers.layout`): the same fields get the same
masking, the text between them is masked as free text, JSON string values are unescaped for
masking and escaped again.

A line that does not match (or any line of an unknown format) falls back to masking every
IP-looking token and e-mail address in it: fail closed. Masking is idempotent: anonymising
twice gives the same line. Work is vectorised per batch, on distinct values.
"""

from __future__ import annotations

import re

import polars as pl

from logtool.anonymize.fastpath import KEPT, FastPath, applies
from logtool.anonymize.fields import filter_url_query
from logtool.anonymize.freetext import (
    clf_users,
    free_text,
    mask_address,
    mask_free_text,
    mask_unknown,
    replace_some,
    vhosts,
)
from logtool.anonymize.redact import candidate_regex, redact
from logtool.config import Policy
from logtool.net import V4_RX, v4_network_expr
from logtool.parsers import LineFormat
from logtool.parsers.jsonl import unescape
from logtool.parsers.normalise import split_request
from logtool.parsers.variants import SYSLOG_PREFIX
from logtool.pipeline import LookupCache

_PERSONAL_NAMES = {"user", "ident"}
_ADDRESS_IN_KEPT, _FREE_FORM = r"\d\.\d+\.\d|::|(?:[0-9A-Fa-f]{1,4}:){3}", {"method_s", "lit"}
_KEEP = KEPT | _FREE_FORM  # kept as logged; a free-form one (W3C columns, a method) fails closed
_URLS = {"target", "target_s", "referrer"}
#: A first token that may be a client: ``-``, or address-like or name-like text with a dot or colon.
_CLIENT_LIKE = r"^(?:-|[\[\]0-9A-Za-z_.:%-]*[.:][\[\]0-9A-Za-z_.:%-]*)$"
#: A JSON string that starts like a URL and has a query or an ``@``; a JSON string.
_JSON_URL_HINT = r'"(?:https?:/|/)[^"]*[?@%]'
#: A JSON string in value position (after ``:``, ``[`` or ``,``): a gap starts with the closing
#: quote of the value before it, so strings are recognised by what precedes them.
_JSON_STRING = re.compile(r'([\[:,][ \t]*)"((?:[^"\\]|\\.)*)"')


class LineAnonymizer:
    """Masks batches of lines of one format (or of no known format: ``fmt=None``)."""

    def __init__(self, fmt: LineFormat | None, policy: Policy) -> None:
        self.fmt, self.policy = fmt, policy
        self.rewriter = fmt.rewriter() if fmt is not None else None  # this input's own
        self.compiled = self.rewriter.template if self.rewriter is not None else None
        self._clients = LookupCache("v", self._slow_address_table, max_rows=200_000)
        self._fields: dict[str, LookupCache] = {}  # each masked field's values, across batches
        # where the full rewrite could change more than the client (see :mod:`.fastpath`)
        triggers = candidate_regex(policy.sensitive_params, within=True)
        if policy.anonymize_query_allowlist:  # every query is then filtered: no fast path for it
            triggers += r"|\?"
        self.fast_path = self.compiled is not None and applies(self.compiled.pieces, self.compiled.fields)
        pieces = self.compiled.pieces if self.compiled is not None else ()
        self.fast = FastPath(self, pieces, getattr(getattr(fmt, "compiled", None), "regex", None), triggers)
        # Formats that cut their lines into segments (JSON, W3C, fixed layouts); W3C carries its
        # #Fields header from batch to batch (see ``context``).
        self.layouts = self.rewriter.layouts if self.rewriter is not None and self.compiled is None else None

    # single values ----------------------------------------------------------------------
    def mask_address(self, text: str) -> str:
        """One client/XFF value → its network address, ``-`` kept, anything else a token."""
        return mask_address(text, self.policy.ipv4_prefix, self.policy.ipv6_prefix)

    def mask_free_text(self, text: str) -> str:
        """Every address → its network address; e-mail addresses → ``<email>``."""
        return mask_free_text(text, self.policy.ipv4_prefix, self.policy.ipv6_prefix)

    # vectorised pieces ------------------------------------------------------------------
    def _slow_address_table(self, values: pl.Series) -> pl.DataFrame:
        return pl.DataFrame(
            {"v": values, "m": pl.Series([self.mask_address(v) for v in values.to_list()], dtype=pl.String)}
        )

    def addresses(self, s: pl.Series) -> pl.Series:
        """Mask client-like values: canonical IPv4 quads row by row (cheaper than their distinct
        values joined back), the rest (IPv6, names, ports …) through a cache of Python results."""
        col = pl.col("v")
        done = s.to_frame("v").select(
            (col.str.contains(V4_RX) | col.is_null()).alias("v4"),
            v4_network_expr(col, self.policy.ipv4_prefix, suffix=False).alias("m"),
        )
        if (v4 := done.get_column("v4")).all():
            return done.get_column("m")
        other = (~v4).arg_true()
        careful = self._clients.join(pl.DataFrame({"v": s.gather(other)})).get_column("m")
        return done.get_column("m").scatter(other, careful)

    def free_text(self, s: pl.Series, versions: bool = False) -> pl.Series:
        """Mask IPs and e-mails in free text, Python only on values that may contain one;
        ``versions``: a user agent (versions after a product token stay)."""
        return free_text(s, self.policy.ipv4_prefix, self.policy.ipv6_prefix, versions)

    def url(self, s: pl.Series) -> pl.Series:
        """A URL (request target, referrer): personal data redacted; with an allow-list
        (``anonymize_query_allowlist``), only the allowed query parameters kept."""
        out = redact(s, self.policy.sensitive_params)
        if self.policy.anonymize_query_allowlist:
            out = filter_url_query(out, self.policy.anonymize_query_allowlist)
        return out

    def vhost(self, s: pl.Series) -> pl.Series:
        """A virtual host that is an address → its network address (port kept); names kept."""
        return self.kept(vhosts(s, self.policy.ipv4_prefix, self.policy.ipv6_prefix))  # and no address inside

    def xff(self, s: pl.Series) -> pl.Series:
        """Each element of an X-Forwarded-For list masked; ``-`` kept."""
        df = pl.DataFrame({"x": s}).with_row_index("_i")
        items = df.select("_i", pl.col("x").str.split(",").alias("e")).explode("e")
        items = items.with_columns(pl.col("e").str.strip_chars())
        items = items.with_columns(self.addresses(items.get_column("e")).alias("e"))
        joined = items.group_by("_i", maintain_order=True).agg(pl.col("e").str.join(", "))
        out = df.join(joined, on="_i", how="left", maintain_order="left")
        return out.select(pl.when(pl.col("x").is_in(["-", ""])).then(pl.col("x")).otherwise(pl.col("e"))).to_series()

    def request(self, s: pl.Series) -> pl.Series:
        """``METHOD target PROTOCOL`` with the target redacted; junk masked as free text."""
        df = pl.DataFrame({"r": s}).with_columns(split_request(pl.col("r")))
        target = self.url(df.get_column("target"))
        rebuilt = df.with_columns(target.alias("target")).select(
            pl.when(pl.col("method").is_null())
            .then(pl.col("r"))
            .otherwise(
                pl.concat_str(
                    [pl.col("method"), pl.lit(" "), pl.col("target"), pl.lit(" ") + pl.col("protocol")],
                    ignore_nulls=True,
                )
            )
        )
        junk = df.get_column("method").is_null()
        out = rebuilt.to_series()
        if junk.any():
            out = out.scatter(junk.arg_true(), self.free_text(redact(out.filter(junk), self.policy.sensitive_params)))
        return out

    def kept(self, s: pl.Series, name: str = "lit") -> pl.Series:
        """A field kept as logged; free-form ones (W3C columns, a method) fail closed."""
        maybe = s.str.contains(_ADDRESS_IN_KEPT).fill_null(False) if name in _FREE_FORM else None
        if maybe is None or not maybe.any():
            return s
        return s.clone().scatter(maybe.arg_true(), self.free_text(s.filter(maybe)))  # scatter works in place

    def field(self, name: str, s: pl.Series) -> pl.Series:
        """The masked values of one field (computed per distinct value, joined back)."""
        if name in _KEEP:
            return self.kept(s, name)
        if name in _PERSONAL_NAMES:
            return pl.repeat("-", s.len(), dtype=pl.String, eager=True)
        if name == "client":
            return self.addresses(s)
        if (cache := self._fields.get(name)) is None:  # the same values come back batch after batch
            compute = lambda u, name=name: pl.DataFrame({"v": u, "m": self._field_distinct(name, u)})  # noqa: E731
            cache = self._fields.setdefault(name, LookupCache("v", compute, max_rows=50_000))
        return cache.join(s.to_frame("v")).get_column("m")

    def _field_distinct(self, name: str, u: pl.Series) -> pl.Series:
        if name == "xff":
            return self.xff(u)
        if name == "request":
            return self.request(u)
        if name in _URLS:
            return self.free_text(self.url(u))
        if name == "vhost":
            return self.vhost(u)
        if name == "query":  # a query string logged apart from its path (W3C)
            url = self.url("/?" + u)
            redacted = pl.select(pl.when(url == "/").then(pl.lit("-")).otherwise(url.str.strip_prefix("/?")))
            redacted = redacted.to_series()
            return pl.select(pl.when(u.is_in(["-", ""])).then(u).otherwise(self.free_text(redacted))).to_series()
        return self.free_text(u, versions=name == "ua")  # user agent and unknown fields

    def segment(self, kind: str, s: pl.Series) -> pl.Series:
        """One segment of a :class:`~logtool.parsers.layout.Layout`, masked by its kind."""
        if kind == "gap":
            return self.free_text(s)
        if kind == "jsongap":
            return self._json_gap(s)
        if kind.startswith("json:"):
            return self._json_text(kind.removeprefix("json:"), s)
        if kind.startswith("bare:"):  # a bare JSON number, true, false or null
            name = kind.removeprefix("bare:")
            if name in _PERSONAL_NAMES:
                return pl.select(pl.when(s == "null").then(s).otherwise(pl.lit('"-"'))).to_series()
            return self.kept(s, name) if name in _KEEP else self.free_text(s)
        return self.field(kind, s)

    def _json_gap(self, s: pl.Series) -> pl.Series:
        """JSON text between known values (other keys, maps of headers): free text, and every
        string in it that is a URL with a query or an ``@`` redacted like a referrer (Caddy logs
        the Referer inside its map of request headers)."""
        s = self.free_text(s)
        uniq = s.drop_nulls().unique()
        cand = uniq.filter(uniq.str.contains(_JSON_URL_HINT))
        if cand.len() == 0:
            return s
        urls = pl.Series([m.group(2) for v in cand.to_list() for m in _JSON_STRING.finditer(v)], dtype=pl.String)
        urls = urls.filter(urls.str.contains(r"^(?:https?://|/)")).unique()
        masked = dict(zip(urls.to_list(), self._json_text("referrer", urls).to_list(), strict=True))
        fixed = [_JSON_STRING.sub(lambda m: f'{m[1]}"{masked.get(m[2], m[2])}"', v) for v in cand.to_list()]
        return replace_some(s, cand, fixed)

    def _json_text(self, name: str, s: pl.Series) -> pl.Series:
        """A JSON string's text (escaped, without its quotes): unescaped, masked, and escaped
        again where masking changed it; empty strings stay empty."""
        if name in _KEEP:
            return self.kept(s, name)
        plain = unescape(s)
        masked = self.field(name, plain)
        changed = (masked != plain).fill_null(False) & (plain != "")
        if not changed.any():
            return s
        escaped = masked.str.replace_all("\\", "\\\\", literal=True).str.replace_all('"', '\\"', literal=True)
        return pl.select(pl.when(changed).then(escaped).otherwise(s)).to_series()

    # batches ----------------------------------------------------------------------------
    def context(self, lines: pl.Series) -> object:
        """What a batch needs from the batches before it (W3C: the ``#Fields`` header of each
        line). Call in input order; the masking itself may then run on any thread."""
        return self.rewriter.context(lines) if self.rewriter is not None else None

    def anonymize(self, lines: pl.Series, context: pl.Series | None = None) -> pl.Series:
        """Same number of lines, same order; CR line endings are kept. ``context``: from
        :meth:`context`, computed here when not given (batches in order, one thread)."""
        if context is None:
            context = self.context(lines)
        cr = lines.str.ends_with("\r")
        has_cr = bool(cr.any())
        body = lines.str.strip_suffix("\r") if has_cr else lines
        if self.compiled is not None:
            out = self._structured(body)
        elif self.layouts is not None:
            out = self._segmented(body, context)
        else:
            out = self._fallback(body)
        if not has_cr:
            return out
        return (
            pl.DataFrame({"o": out, "cr": cr})
            .select(pl.when(pl.col("cr")).then(pl.col("o") + "\r").otherwise(pl.col("o")))
            .to_series()
        )

    def _fallback(self, body: pl.Series) -> pl.Series:
        """A line of no known layout, masked as a whole (:func:`.freetext.mask_unknown`)."""
        return mask_unknown(body, self.policy.ipv4_prefix, self.policy.ipv6_prefix, self.policy.sensitive_params)

    def _segmented(self, body: pl.Series, context: pl.Series | None) -> pl.Series:
        """Each layout's segments masked by kind and joined; the other lines masked as free text."""
        assert self.layouts is not None
        layouts, rest = self.layouts(body, context)
        out = body.clone()  # scatter works in place: never on the caller's series
        for lay in layouts:
            cols = zip(lay.kinds, lay.parts.columns, strict=True)
            masked = pl.DataFrame([self.segment(k, lay.parts.get_column(c)).rename(c) for k, c in cols])
            out = out.scatter(lay.rows, masked.select(pl.concat_str(pl.all(), ignore_nulls=True)).to_series())
        if rest.len():
            out = out.scatter(rest, self._fallback(body.gather(rest)))
        return out

    def _structured(self, body: pl.Series) -> pl.Series:
        """Fast path where it is safe, the full rewrite elsewhere."""
        if not self.fast_path:
            return self._rewrite(body)
        heads, tails = self.fast.lines(body)
        return (
            pl.DataFrame({"h": heads, "t": tails})
            .select(pl.concat_str([pl.col("h"), " " + pl.col("t")], ignore_nulls=True))
            .to_series()
        )

    def rewrite(self, body: pl.Series, masked_first: pl.Series | None = None) -> pl.Series:
        """Each line rebuilt from its fields (``masked_first``: see :meth:`_rewrite`)."""
        return self._rewrite(body, masked_first)

    def _rewrite(self, body: pl.Series, masked_first: pl.Series | None = None, loose: bool = False,
                 prefixed: bool = False) -> pl.Series:  # fmt: skip
        """Rebuild each line from its fields. ``masked_first``: the first token of each line,
        already masked as a client (by the fast path), reused instead of computed again.
        ``loose``: with the template's variants (leading blanks, trailing fields, a raw quote in
        the request); ``prefixed``: the lines are what followed a syslog prefix."""
        assert self.compiled is not None
        regex = self.compiled.loose_rewrite_regex if loose else self.compiled.rewrite_regex
        g = body.to_frame("line").select(pl.col("line").str.extract_groups(regex)).unnest("line")
        matched = g.get_column("tail").is_not_null()
        if not matched.any():  # (no field to mask: garbage, truncated or empty lines)
            return self._unmatched(body, masked_first, loose, prefixed)
        pieces: list[pl.Expr] = [pl.col("lead")] if loose else []
        cols: dict[str, pl.Series] = {"lead": g.get_column("lead")} if loose else {}
        n = 0
        for kind, value in self.compiled.pieces:
            if kind == "lit":
                pieces.append(pl.lit(value, dtype=pl.String))
            else:
                reuse = n == 0 and value == "client" and masked_first is not None
                cols[f"f{n}"] = masked_first if reuse else self.field(value, g.get_column(f"f{n}"))  # type: ignore[assignment]
                pieces.append(pl.col(f"f{n}"))
                n += 1
        if loose:  # unknown trailing fields: free text
            pieces.append(pl.col("extra"))
            cols["extra"] = self.free_text(g.get_column("extra"))
        pieces.append(pl.col("tail"))
        cols["tail"] = g.get_column("tail")
        out = pl.DataFrame([s.rename(k) for k, s in cols.items()]).select(pl.concat_str(pieces)).to_series()
        if not matched.all():
            bad = (~matched).arg_true()
            first = masked_first.gather(bad) if masked_first is not None else None
            out = out.scatter(bad, self._unmatched(body.gather(bad), first, loose, prefixed))
        return out

    def _unmatched(self, body: pl.Series, first: pl.Series | None, loose: bool, prefixed: bool) -> pl.Series:
        """Lines the template does not fit: read loosely, then after a syslog prefix (masked as
        free text), else masked as garbled lines of the format."""
        assert self.compiled is not None
        if not loose and self.compiled.loose_rewrite_regex:
            return self._rewrite(body, None, loose=True, prefixed=prefixed)
        out = self._fallback_known(body, first)
        if prefixed:
            return out
        split = pl.DataFrame({"b": body}).select(pl.col("b").str.extract_groups(f"(?P<p>{SYSLOG_PREFIX})(?P<r>.*)$"))
        split = split.unnest("b")
        has = split.get_column("p").is_not_null()
        if has.any():
            prefix = self.free_text(split.get_column("p").filter(has))
            rest = self._rewrite(split.get_column("r").filter(has), prefixed=True)
            out = out.scatter(has.arg_true(), prefix + rest)
        return out

    def _fallback_known(self, body: pl.Series, masked_first: pl.Series | None = None) -> pl.Series:
        """A line of a known format that does not match it (truncated, garbled): a first token
        that looks like an address or a host name is most likely the client, so it is masked as
        one; the rest is masked as a whole (ident and user too; a JSON or syslog message keeps
        its first word)."""
        body = clf_users(body)
        parts = pl.DataFrame({"b": body}).select(pl.col("b").str.splitn(" ", 2)).unnest("b")
        first = parts.get_column("field_0")
        client_like = first.str.contains(_CLIENT_LIKE).fill_null(False)
        client = masked_first if masked_first is not None else self.addresses(first)
        rest = pl.select(pl.when(client_like).then(parts.get_column("field_1")).otherwise(body)).to_series()
        rest = self._fallback(rest)
        return (
            pl.DataFrame({"c": pl.select(pl.when(client_like).then(client)).to_series(), "r": rest})
            .select(pl.concat_str([pl.col("c"), pl.col("r")], separator=" ", ignore_nulls=True))
            .to_series()
        )
