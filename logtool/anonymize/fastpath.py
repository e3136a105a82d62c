"""``anonymize``'s fast path, for formats whose lines start ``client ident user`` (Apache's
``%h %l %u``, nginx's ``$remote_addr - $remote_user``) and have no X-Forwarded-For field.

Most lines change only in their client: ident and user are ``-`` and nothing in the rest matches
what the full rewrite acts on (:func:`~logtool.anonymize.redact.candidate_regex`: everything URL
redaction acts on, which covers what free-text masking looks for). Such a line is its masked
client and the rest of the line as it was; every other line is rewritten whole.

Where the compiled cutter reads the format (:mod:`logtool.parsers.fastcut`), the rest is checked
field by field on distinct values: a batch holds few distinct requests, referrers and user
agents, so the trigger runs over a fraction of the bytes. Lines the cutter does not read (a
trailing field, a broken quote) and formats it cannot read are checked as a whole.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from logtool import native
from logtool.parsers import fastcut
from logtool.pipeline import distinct


class Masker(Protocol):
    """What the fast path needs of its :class:`~logtool.anonymize.lines.LineAnonymizer`."""

    def addresses(self, s: pl.Series) -> pl.Series: ...

    def rewrite(self, body: pl.Series, masked_first: pl.Series | None = None) -> pl.Series: ...


#: Fields the full rewrite keeps exactly as logged (no trigger needed; the rest are masked).
#: The rewrite's own list (``lines._KEEP``) is these and the free-form ones it checks.
KEPT = frozenset({"time", "status", "bytes", "rt_s", "rt_ms", "rt_us", "upstream_rt", "msec", "time_iso",
                  "time_naive_ms"})  # fmt: skip


def applies(pieces: tuple[tuple[str, str], ...], fields: frozenset[str]) -> bool:
    """``%h %l %u …`` (Apache) or ``$remote_addr - $remote_user …`` (nginx), without an
    X-Forwarded-For list (it may hold hostnames the trigger cannot see)."""
    head = [v for _, v in pieces[:6]]
    return (
        "xff" not in fields
        and head[:2] == ["client", " "]
        and (head[2:6] == ["ident", " ", "user", " "] or head[2:4] == ["- ", "user"] and head[4:5] == [" "])
    )


class FastPath:
    """The fast path of one :class:`~logtool.anonymize.lines.LineAnonymizer` (``pieces``: its
    template's; ``regex``: its format's, for the cutter)."""

    def __init__(self, anonymizer: Masker, pieces: tuple[tuple[str, str], ...], regex: str | None,
                 triggers: str) -> None:  # fmt: skip
        self.a, self.triggers = anonymizer, triggers
        named = [v for kind, v in pieces if kind == "field"]
        fields = frozenset(named)
        # every field named once: an unnamed one ("_", a header the format does not know) or a
        # field logged twice is masked by the rewrite but has no column of its own to check
        plan = fastcut.plan(regex) if regex and "_" not in fields and len(named) == len(fields) else None
        self.personal = [n for n in ("ident", "user") if n in fields]
        self.checked = [n for n in sorted(fields) if n not in KEPT | {"client", "ident", "user"}]
        # the fields looked at, and one to tell a line the cutter read (none of its fields is null)
        wanted = (*self.personal, *self.checked) or ("client",)
        self.plan = plan.only(wanted) if plan is not None and set(plan.names) == set(fields) else None

    def lines(self, body: pl.Series) -> tuple[pl.Series, pl.Series]:
        """The lines in two parts, ``head + " " + tail`` (the head alone where the tail is null):
        a line whose client is all that changes is its masked client and the rest of the line as
        it is (a view into the batch's bytes where the compiled module cut it); any other line is
        rewritten whole, as the head."""
        client, rest = native.first_space(body) or first_space(body)
        simple = self.only_client(body, rest)
        heads = self.a.addresses(client)
        if simple.all():
            return heads, rest
        slow = (~simple).arg_true()
        first = heads.gather(slow)  # the masked clients reused, unless a line has none
        heads = heads.scatter(slow, self.a.rewrite(body.gather(slow), None if first.null_count() else first))
        return heads, pl.select(pl.when(simple).then(rest)).to_series()

    def only_client(self, body: pl.Series, rest: pl.Series) -> pl.Series:
        """Whether masking changes only the client of each line (``rest``: the text after its
        first space, null where there is none)."""
        fields = native.cut_fields(body, self.plan.program, self.plan.names, pack=False) if self.plan else None
        if fields is None:
            return self.rest_is_plain(rest)
        checks = [pl.lit(True), *(pl.col(n) == "-" for n in self.personal)]
        for name in self.checked:
            if (hits := distinct(fields.get_column(name), self.triggers)).len():
                checks.append(~pl.col(name).is_in(hits.implode()))
        cut = pl.col(self.plan.names[0]).is_not_null()  # a line the cutter read (no field is null)
        simple = fields.select(pl.when(cut).then(pl.all_horizontal(checks))).to_series()
        if simple.null_count():  # lines the cutter did not read: checked as a whole
            uncut = simple.is_null().arg_true()
            simple = simple.scatter(uncut, self.rest_is_plain(rest.gather(uncut)))
        return simple

    def rest_is_plain(self, rest: pl.Series) -> pl.Series:
        """The check on the whole rest of a line: ident and user are "-", and nothing in it
        matches the trigger."""
        return (rest.str.starts_with("- - ") & ~rest.str.contains(self.triggers)).fill_null(False)


def first_space(lines: pl.Series) -> tuple[pl.Series, pl.Series]:
    """:func:`logtool.native.first_space` in polars: the text before a line's first space (not
    empty) and after it, both null where there is none."""
    parts = pl.DataFrame({"b": lines}).select(pl.col("b").str.splitn(" ", 2)).unnest("b")
    ok = (pl.col("field_0") != "") & pl.col("field_1").is_not_null()
    cut = parts.select(pl.when(ok).then(pl.col("field_0")), pl.when(ok).then(pl.col("field_1")))
    return cut.get_column("field_0").alias(lines.name), cut.get_column("field_1").alias(lines.name)
