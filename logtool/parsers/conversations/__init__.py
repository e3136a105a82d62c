"""Conversation formats (chat-bot and call-bot records): a registry and detection of their own.

A conversation format has ``name``, ``description``, ``sample``, ``kind = "conversation"``,
``match_rate(lines)`` and ``parse_stream(batches)`` (see :mod:`.base`): unlike a log format it
reads the whole input, since a REST API page or a transcript is one JSON document. They are
kept apart from the log formats' registry (:data:`logtool.parsers.REGISTRY`) so that log
detection, golden files and benchmarks stay as they are; :func:`logtool.parsers.detect` tries
them first (their shapes — Twilio SIDs, a CSV header, chat keys — are unmistakable).
"""

from __future__ import annotations

from typing import Any, Protocol

import polars as pl

from logtool.parsers.conversations.base import Batches, Parsed
from logtool.parsers.conversations.chat import FORMATS as _CHAT
from logtool.parsers.conversations.chat import chat_map_format, is_chat_map
from logtool.parsers.conversations.twilio import FORMATS as _TWILIO

__all__ = [
    "ConversationFormat",
    "CONV_REGISTRY",
    "detect_conversation",
    "chat_map_format",
    "is_chat_map",
    "is_conversation",
]


class ConversationFormat(Protocol):
    name: str
    kind: str
    description: str
    sample: str

    def match_rate(self, lines: pl.Series) -> float: ...

    def parse_stream(self, batches: Batches) -> Parsed: ...


#: Conversation formats in detection order.
CONV_REGISTRY: dict[str, ConversationFormat] = {f.name: f for f in (*_TWILIO, *_CHAT)}

#: Share of the sampled lines a conversation format must recognise.
THRESHOLD = 0.6


def is_conversation(fmt: Any) -> bool:
    return getattr(fmt, "kind", None) == "conversation"


def detect_conversation(lines: pl.Series) -> tuple[ConversationFormat, float] | None:
    """The conversation format that recognises ``lines`` best, if one does well enough."""
    best: tuple[ConversationFormat, float] | None = None
    for fmt in CONV_REGISTRY.values():
        rate = fmt.match_rate(lines)
        if rate >= THRESHOLD and (best is None or rate > best[1]):
            best = (fmt, rate)
    return best
