"""Fake search-engine crawlers: a user agent that claims a crawler from outside its operator.

A claim (``[fake_bot.NAME] user_agent``, a case-insensitive regex) is genuine when the client is
in one of the operator's autonomous systems (``asns``, looked up in an ASN database: a current
judgement that does not go stale like a range list) or, as a second signal, inside the ranges
the operator publishes (``networks``). Otherwise it is fake. An optional verifier (forward-
confirmed reverse DNS against ``domains``, see :mod:`logtool.review.crawlers`) overrides both
when it gives an answer. Work is per distinct (agent, client), never per row, and a client's
judgement is remembered.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import polars as pl

from logtool.enrich.asn import open_asn_db
from logtool.net import Network, inside_any, plain_address

#: ``verify(client, domains) -> True (genuine) | False (fake) | None (no answer)``.
Verifier = Callable[[str, list[str]], "bool | None"]


@lru_cache(maxsize=64)
def _networks(nets: tuple[str, ...]) -> list[Network]:
    return [ipaddress.ip_network(n) for n in nets]


def genuine(client: str, bot: dict[str, Any], asn: Any, verify: Verifier | None = None) -> bool:
    """Is ``client`` one of ``bot``'s operator's machines?"""
    if verify is not None and (answer := verify(client, list(bot.get("domains", [])))) is not None:
        return answer
    nets = _networks(tuple(bot.get("networks", [])))
    addr = plain_address(client)  # parsed once, for both checks (a third the time); else the careful way
    if asn is not None and bot.get("asns"):
        number = asn.lookup(client) if addr is None else asn.lookup_address(addr)
        if number in set(bot["asns"]):
            return True
    if addr is None:
        return inside_any(client, nets)
    return any(addr.version == n.version and addr in n for n in nets)


@lru_cache(maxsize=65_536)
def _genuine(client: str, asns: tuple[int, ...], networks: tuple[str, ...], domains: tuple[str, ...], asn: Any,
             verify: Verifier | None) -> bool:  # fmt: skip
    """:func:`genuine`, remembered: a review asks about the same crawler addresses in every piece."""
    return genuine(client, {"asns": list(asns), "networks": list(networks), "domains": list(domains)}, asn, verify)


def _judge(clients: list[str], bot: dict[str, Any], asn: Any, verify: Verifier | None) -> list[str]:
    """The ``clients`` that are ``bot``'s operator's machines."""
    try:
        key = (tuple(bot.get("asns", [])), tuple(bot.get("networks", [])), tuple(bot.get("domains", [])))
        return [c for c in clients if _genuine(c, *key, asn, verify)]
    except TypeError:  # a value that cannot be a key: judged afresh
        return [c for c in clients if genuine(c, bot, asn, verify)]


def fake_bots(df: pl.DataFrame, bots: dict[str, Any], client: str = "client_ip", asn: Any = None,
              crawlers: dict[str, Any] | None = None, verify: Verifier | None = None,
              agents: pl.Series | None = None) -> pl.Series:  # fmt: skip
    """Per row: does its user agent claim a crawler of ``bots`` from outside that operator?
    ``agents``: the distinct non-null user agents of ``df``, when the caller has them."""
    ua = "user_agent" if "user_agent" in df.columns else "ua_family"
    out = pl.repeat(False, df.height, eager=True)
    if client not in df.columns or ua not in df.columns or df.height == 0:
        return out.alias("fake_bot")
    if asn is None:  # a wrong path in the rules stops the run here, whether or not an agent claims a crawler
        asn = open_asn_db(str((crawlers or {}).get("asn_db", "")))
    if agents is None:  # regexes run on distinct user agents only
        agents = df.get_column(ua).drop_nulls().unique()
    claims = [
        (bot, found)
        for bot in bots.values()
        if (found := agents.filter(agents.str.contains(f"(?i){bot['user_agent']}"))).len()
    ]
    if not claims:
        return out.alias("fake_bot")
    # the rows that claim any crawler (a few in a hundred), one pass over the batch; then on them alone
    rows = df.get_column(ua).is_in(pl.concat([found for _, found in claims]).implode()).fill_null(False).arg_true()
    agent, sub = df.get_column(ua).gather(rows), df.get_column(client).gather(rows)
    fake = pl.repeat(False, rows.len(), eager=True)
    for bot, found in claims:
        claiming = agent.is_in(found.implode())
        real = _judge(sub.filter(claiming).drop_nulls().unique().to_list(), bot, asn, verify)
        fake = fake | (claiming & ~sub.is_in(real).fill_null(False))
    return out.scatter(rows.filter(fake), True).alias("fake_bot")
