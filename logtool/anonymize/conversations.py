"""Conversation records of the raw stage → the anonymised stage.

Numbers, caller names, contact fields, client addresses and user agents are dropped (their
coarse forms — ``from_area``, ``client_net``, ``ua_family`` — were derived at ingest and stay);
``text`` is redacted (:mod:`.text`) or dropped, as ``conversation_text`` says; ``summary`` is
always redacted; the ``page`` URL is redacted like a request path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from logtool.anonymize.redact import redact
from logtool.anonymize.text import redact_text
from logtool.schema import CONV_ANON_SCHEMA, conform

if TYPE_CHECKING:
    from logtool.config import Policy


def anonymise_conversations(raw: pl.DataFrame, net: pl.Series, policy: Policy) -> pl.DataFrame:
    """Raw conversation rows → anonymised rows; ``net`` is the truncated client network per row."""
    sensitive, region = policy.sensitive_params, policy.phone_region
    if policy.conversation_text == "drop":
        text = pl.Series("text", [None] * raw.height, dtype=pl.String)
    else:
        text = redact_text(raw.get_column("text"), sensitive, region)
    out = raw.with_columns(
        net.alias("client_net"),
        text,
        redact_text(raw.get_column("summary"), sensitive, region),
        redact(raw.get_column("page"), sensitive),
    )
    return conform(out, CONV_ANON_SCHEMA)
