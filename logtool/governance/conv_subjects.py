"""Data-subject requests over conversation records: who a subject is, and which records are theirs.

A subject is named by one or more identifiers: an IP address (any spelling), a phone number
(any spelling: E.164, national in the policy's ``phone_region``, spaces, dashes, brackets) and
an e-mail address (case-insensitive). A conversation record is linked when

* its client address is the IP address (chat messages);
* one of its numbers (``from``, ``to``, ``forwarded_from``, the contact phone) is the phone
  number, or its text or summary contains it in any spelling libphonenumber reads;
* its contact e-mail is the address, or its text or summary contains it.

A conversation is the subject's as a whole: when one record of a call or chat session links,
every record of it does (the bot's answers are part of the subject's conversation). Only the
``conv_raw`` stage holds such links: anonymised records keep no numbers, contacts or
addresses, and their text is redacted.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

import phonenumbers
import polars as pl

from logtool import phones
from logtool.errors import ConfigError
from logtool.net import IPAddress, parse_ip
from logtool.store import Partition, Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Subject:
    """The identifiers of one data subject, normalised."""

    ip: IPAddress | None = None
    phone: str | None = None  # E.164
    email: str | None = None  # lower-case

    def identifiers(self) -> list[tuple[str, str]]:
        return [(k, str(v)) for k, v in (("ip", self.ip), ("phone", self.phone), ("email", self.email)) if v]


def subject_of(ip: str | None, phone: str | None = None, email: str | None = None, region: str = "DE") -> Subject:
    """Validate and normalise the identifiers of a request (at least one)."""
    if not (ip or phone or email):
        raise ConfigError("name the subject: --ip ADDRESS, --phone NUMBER and/or --email ADDRESS")
    addr = None
    if ip:
        addr = parse_ip(ip)
        if addr is None:
            raise ConfigError(f"--ip: not an IP address: {ip!r}")
    number = None
    if phone:
        number = phones.e164(phone, region)
        if number is None:
            raise ConfigError(f"--phone: not a phone number: {phone!r} (national numbers are read as {region})")
    mail = None
    if email:
        mail = email.strip().lower()
        if not _EMAIL.match(mail):
            raise ConfigError(f"--email: not an e-mail address: {email!r}")
    return Subject(addr, number, mail)


def identifier_key(store: Store, kind: str, value: str) -> str:
    """A keyed, non-reversible name of one identifier (restriction list, audit entries). An IP
    address is keyed as before phone and e-mail existed, so earlier restrictions still hold."""
    msg = value if kind == "ip" else f"{kind}:{value}"
    return "subj-" + hmac.new(store.secret(), msg.encode(), hashlib.sha256).hexdigest()[:24]


def _per_distinct(values: pl.Series, test: object) -> pl.Series:
    uniq = values.drop_nulls().unique()
    hits = pl.Series([bool(test(v)) for v in uniq.to_list()], dtype=pl.Boolean)  # type: ignore[operator]
    mapping = pl.DataFrame({"v": uniq, "h": hits})
    out = pl.DataFrame({"v": values}).join(mapping, on="v", how="left", maintain_order="left")
    return out.get_column("h").fill_null(False)


def _text_has_phone(text: str, number: str, region: str) -> bool:
    digits = re.sub(r"\D", "", text)
    nsn = number[-7:]
    if nsn not in digits:
        return False
    return any(
        phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164) == number
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)
    )


def linked_records(df: pl.DataFrame, s: Subject, region: str = "DE") -> pl.Series:
    """Per ``conv_raw`` row: does it link to the subject by itself?"""
    mask = pl.repeat(False, df.height, eager=True)
    if s.ip is not None:
        mask = mask | _per_distinct(df.get_column("client_ip"), lambda v: parse_ip(v) == s.ip)
    if s.phone is not None:
        for col in ("from_number", "to_number", "forwarded_from", "contact_phone"):
            mask = mask | _per_distinct(df.get_column(col), lambda v: phones.e164(v, region) == s.phone)
        number = s.phone
        for col in ("text", "summary"):
            mask = mask | _per_distinct(df.get_column(col), lambda v: _text_has_phone(v, number, region))
    if s.email is not None:
        mask = mask | (df.get_column("contact_email").str.to_lowercase() == s.email).fill_null(False)
        for col in ("text", "summary"):
            mask = mask | df.get_column(col).str.to_lowercase().str.contains(s.email, literal=True).fill_null(False)
    return mask


def url_mask(df: pl.DataFrame, s: Subject, region: str = "DE") -> pl.Series:
    """Per web-log row: does its path, query or referrer carry the subject's e-mail address or
    phone number (URL-decoded: ``jane%40example.org``, ``%2B49…``)? A newsletter link or a
    contact form's GET request is the subject's data too."""
    mail, number = s.email, s.phone

    def carries(v: str) -> bool:
        text = unquote_plus(v)
        return bool((mail and mail in text.lower()) or (number and _text_has_phone(text, number, region)))

    mask = pl.repeat(False, df.height, eager=True)
    for col in ("path", "query", "referrer"):
        mask = mask | _per_distinct(df.get_column(col), carries)
    return mask


def _parts(store: Store, date_from: str | None, date_to: str | None) -> list[Partition]:
    return store.parts("conv_raw", date_from, date_to)


def linked_conversations(store: Store, s: Subject, region: str, date_from: str | None = None,
                         date_to: str | None = None) -> set[tuple[str, str]]:  # fmt: skip
    """(channel, conversation id) of every conversation with a record linked to the subject."""
    out: set[tuple[str, str]] = set()
    for df in store.iter_parts(_parts(store, date_from, date_to), "conv_raw"):
        hits = df.filter(linked_records(df, s, region)).select("channel", "conversation_id").unique()
        out |= set(hits.iter_rows())
    return out


def in_conversations(df: pl.DataFrame, convs: set[tuple[str, str]]) -> pl.Series:
    """Per row: does it belong to one of ``convs``?"""
    if not convs:
        return pl.repeat(False, df.height, eager=True)
    keys = pl.DataFrame(list(convs), schema={"channel": pl.String, "conversation_id": pl.String}, orient="row")
    keys = keys.with_columns(pl.lit(True).alias("_hit"))
    joined = df.select("channel", "conversation_id").join(keys, on=["channel", "conversation_id"], how="left",
                                                          maintain_order="left")  # fmt: skip
    return joined.get_column("_hit").fill_null(False)


def subject_records(store: Store, s: Subject, region: str, date_from: str | None = None,
                    date_to: str | None = None) -> Iterator[pl.DataFrame]:  # fmt: skip
    """Every ``conv_raw`` record of the subject's conversations, in batches."""
    convs = linked_conversations(store, s, region, date_from, date_to)
    if not convs:
        return
    for df in store.iter_parts(_parts(store, date_from, date_to), "conv_raw"):
        rows = df.filter(in_conversations(df, convs))
        if rows.height:
            yield rows
