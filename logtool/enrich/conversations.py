"""Ingest-time enrichment of conversation records, once per distinct value and joined back.

* ``from_number``, ``to_number``, ``forwarded_from`` → ``from_area``, ``to_area``,
  ``forwarded_area`` (country + area code, :func:`logtool.phones.area`);
* ``country``: of the other party's number for calls and utterances (the caller of an inbound
  call, the callee of an outbound one), of the client address for chats (the GeoIP database);
* ``client_ip`` → ``client_net`` (the policy's prefixes, as for logs); a chat session's address
  and user agent, sent with its first message, are carried to its other messages;
* ``user_agent`` → ``ua_family``, ``device``.
"""

from __future__ import annotations

import polars as pl

from logtool import phones
from logtool.config import Policy
from logtool.enrich import client_table
from logtool.enrich.geo import GeoDB
from logtool.enrich.ua import ua_table


def enrich_conversations(rec: pl.DataFrame, policy: Policy, geo: GeoDB | None) -> pl.DataFrame:
    """``rec`` (conversation records in the raw schema) with the derived columns filled in."""
    region = policy.phone_region
    # a chat client sends its address and browser with the session's first message: every
    # message of the session is from that client (holds by network and subject requests see it)
    session = pl.col("conversation_id")
    rec = rec.with_columns(
        pl.when(pl.col("channel") == "chat").then(pl.col(c).forward_fill().backward_fill().over(session))
        .otherwise(pl.col(c)).alias(c)
        for c in ("client_ip", "user_agent")
    )  # fmt: skip
    numbers = pl.concat([rec.get_column(c) for c in ("from_number", "to_number", "forwarded_from")])
    table = phones.number_table(numbers, region)
    out = rec
    for col, target in (("from_number", "from_area"), ("to_number", "to_area"), ("forwarded_from", "forwarded_area")):
        t = table.select(pl.col("number").alias(col), pl.col("area").alias(target),
                         pl.col("country").alias(f"_{col}_cc"))  # fmt: skip
        out = out.drop(target).join(t, on=col, how="left", maintain_order="left")
    outbound = pl.col("direction").str.starts_with("outbound").fill_null(False)
    number_cc = pl.when(outbound).then(pl.col("_to_number_cc")).otherwise(pl.col("_from_number_cc"))
    clients = client_table(out.get_column("client_ip"), policy, geo).rename({"country": "_ip_cc"})
    out = out.drop("client_net").join(clients, on="client_ip", how="left", maintain_order="left")
    agents = ua_table(out.get_column("user_agent")).select("user_agent", "ua_family", "device")
    out = out.drop("ua_family", "device").join(agents, on="user_agent", how="left", maintain_order="left")
    country = pl.when(pl.col("channel") == "chat").then(pl.col("_ip_cc")).otherwise(number_cc)
    out = out.with_columns(pl.coalesce(country, pl.col("country")).alias("country"))
    return out.drop("_from_number_cc", "_to_number_cc", "_forwarded_from_cc", "_ip_cc")
