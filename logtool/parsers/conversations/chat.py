"""Chat-bot transcripts as JSON lines: one message per line, tied together by a session id.

The default mapping (field → key; nested keys with dots)::

    session_id=session_id   ts=ts   role=role   text=text   message_id=message_id
    client_ip=client_ip     user_agent=user_agent           page=page
    contact_name=contact.name   contact_email=contact.email   contact_phone=contact.phone
    functions=functions     summary=summary     outcome=outcome     language=language

``session_id`` and ``ts`` (ISO 8601, RFC 2822 or epoch seconds) are required. ``role`` is
``user`` or ``bot`` (``assistant``, ``agent``, ``ai`` count as ``bot``; ``human``, ``customer``,
``visitor`` as ``user``; anything else ``other``). ``functions`` (the tools the bot called) is a
list of names or a comma-separated string. Another bot's export is read with ``--json-map``
naming its keys for these fields, e.g. ``--json-map session_id=conversation.id,ts=created_at,
role=author,text=body``; a mapping that names ``session_id`` is a chat mapping.
"""

from __future__ import annotations

from typing import Any

from logtool.errors import ConfigError
from logtool.parsers.conversations.base import (
    Batches,
    Parsed,
    frame,
    get_path,
    is_json_lines,
    json_lines,
    number,
    parse_time,
    rejects,
    text,
)

DEFAULT_MAP: dict[str, str] = {
    "session_id": "session_id", "ts": "ts", "role": "role", "text": "text", "message_id": "message_id",
    "client_ip": "client_ip", "user_agent": "user_agent", "page": "page", "contact_name": "contact.name",
    "contact_email": "contact.email", "contact_phone": "contact.phone", "functions": "functions",
    "summary": "summary", "outcome": "outcome", "language": "language", "seq": "seq",
}  # fmt: skip
REQUIRED = ("session_id", "ts")

_ROLES = {
    "user": "user", "human": "user", "customer": "user", "visitor": "user", "client": "user",
    "bot": "bot", "assistant": "bot", "agent": "bot", "ai": "bot", "system": "bot",
}  # fmt: skip

#: Mapping field → raw-schema column where the names differ.
_COLUMN = {"session_id": "conversation_id", "message_id": "record_id", "outcome": "status"}
_COLUMNS = ["conversation_id", "record_id", "ts", "seq", "role", "text", "client_ip", "user_agent", "page",
            "contact_name", "contact_email", "contact_phone", "functions", "summary", "status", "language", "kind",
            "channel", "line_no"]  # fmt: skip


def parse_map(spec: str) -> dict[str, str]:
    """``field=key,…`` laid over the default mapping; unknown fields are an error."""
    out = dict(DEFAULT_MAP)
    for item in (i.strip() for i in spec.split(",")):
        if not item:
            continue
        field, sep, key = item.partition("=")
        field, key = field.strip(), key.strip()
        if not sep or not key:
            raise ConfigError(f"--json-map: expected FIELD=KEY, got {item!r}")
        if field not in DEFAULT_MAP:
            raise ConfigError(f"--json-map: unknown chat field {field!r} (known: {', '.join(DEFAULT_MAP)})")
        out[field] = key
    return out


def is_chat_map(spec: str) -> bool:
    """A ``--json-map`` that maps ``session_id`` describes chat transcripts, not access logs."""
    return any(item.partition("=")[0].strip() == "session_id" for item in spec.split(","))


class ChatJsonl:
    """Chat messages as JSON lines, read through a field mapping."""

    kind = "conversation"

    def __init__(self, name: str, mapping: dict[str, str], description: str) -> None:
        self.name, self.mapping, self.description = name, mapping, description
        self.sample = (
            '{"session_id": "s-7f3a", "ts": "2026-11-24T10:00:00Z", "role": "user", "text": "Do you ship to '
            'Austria?", "client_ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", '
            '"page": "https://www.example.org/shop", "contact": {"email": "jane@example.org"}}'
        )

    def _is_message(self, value: dict[str, Any]) -> bool:
        return all(get_path(value, self.mapping[f]) is not None for f in REQUIRED) and (
            get_path(value, self.mapping["role"]) is not None or get_path(value, self.mapping["text"]) is not None
        )

    def match_rate(self, lines: Any) -> float:
        return is_json_lines(lines, self._is_message)

    def parse_stream(self, batches: Batches) -> Parsed:
        m = self.mapping
        keys = {f: (k, tuple(k.split("."))) for f, k in m.items()}
        optional = [(_COLUMN.get(f, f), f) for f in ("message_id", "text", "client_ip", "user_agent", "page",
                    "contact_name", "contact_email", "contact_phone", "functions", "summary", "language")]  # fmt: skip

        def get(value: dict[str, Any], f: str) -> Any:
            key, parts = keys[f]
            found = value.get(key)
            if found is not None or len(parts) == 1:
                return found
            return get_path(value, key)

        for batch in batches:
            cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
            bad: list[tuple[int, str, str]] = []
            texts = dict(batch.select("line_no", "line").iter_rows())
            for n, value, reason in json_lines(batch):
                if value is None:
                    bad.append((n, reason or "invalid JSON", texts[n]))
                    continue
                session = text(get(value, "session_id"))
                ts = parse_time(get(value, "ts"))
                if session is None:
                    bad.append((n, f"message without {m['session_id']}", texts[n]))
                    continue
                if ts is None:
                    bad.append((n, f"message without a valid {m['ts']}", texts[n]))
                    continue
                for col, f in optional:
                    v = get(value, f)
                    cols[col].append(v if v is None or (isinstance(v, str) and v.strip()) else text(v))
                outcome = text(get(value, "outcome"))
                cols["status"].append(outcome.lower() if outcome else None)
                role = (text(get(value, "role")) or "").strip().lower()
                cols["role"].append(_ROLES.get(role, "other") if role else None)
                seq = number(get(value, "seq"))
                cols["seq"].append(int(seq) if seq is not None and abs(seq) < 2**31 else None)
                cols["conversation_id"].append(session)
                cols["ts"].append(ts)
                cols["line_no"].append(n)
            k = len(cols["ts"])
            cols["kind"], cols["channel"] = ["message"] * k, ["chat"] * k
            yield frame(cols), rejects(bad)


CHAT = ChatJsonl("chat_jsonl", DEFAULT_MAP, "Chat-bot transcripts, JSON lines (session_id, ts, role, text, …)")


def chat_map_format(spec: str) -> ChatJsonl:
    return ChatJsonl("chat-custom", parse_map(spec), "chat JSON lines with a user --json-map")


FORMATS = (CHAT,)
