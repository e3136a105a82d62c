"""Phone numbers: parsing in any spelling and reduction to country + area, fail closed.

The counterpart of :mod:`logtool.net` for conversation records. A number is read with Google's
libphonenumber rules (the ``phonenumbers`` package, offline metadata): E.164 (``+4930…``),
international with ``00``, national (``030 …``, read in the policy's ``phone_region``), with
spaces, dashes, dots, slashes or brackets, ``tel:`` URIs. Its anonymised form keeps the country
calling code and the national destination code (the area code of a landline, the network code
of a mobile): ``+49 30 23125 123`` → ``+49 30``, ``+1 201-555-0123`` → ``+1 201``.

What is not a phone number is never passed through: Twilio Client identifiers become
``client``, SIP addresses ``sip``, anything else :data:`UNKNOWN`. Work is done once per
distinct value (:func:`number_table`).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
import polars as pl

#: The anonymised form of a value that is not a readable phone number.
UNKNOWN = "unknown"
_DIGITS = re.compile(r"\d")


@lru_cache(maxsize=65_536)
def parse(text: str | None, region: str = "DE") -> phonenumbers.PhoneNumber | None:
    """A possible phone number in ``text`` (one number, any spelling), else ``None``."""
    if not text:
        return None
    t = text.strip()
    if t.lower().startswith("tel:"):
        t = t[4:]
    if len(_DIGITS.findall(t)) < 5 or re.search(r"[A-Za-z@]", t):
        return None
    try:
        num = phonenumbers.parse(t, region)
    except phonenumbers.NumberParseException:
        return None
    return num if phonenumbers.is_possible_number(num) else None


def e164(text: str | None, region: str = "DE") -> str | None:
    """The number in E.164 (``+493023125123``), the one spelling subject requests compare."""
    num = parse(text, region)
    return None if num is None else phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def area_of(num: phonenumbers.PhoneNumber) -> str:
    """``+CC NDC`` of a parsed number; ``+CC`` alone where the plan has no destination code."""
    nsn = phonenumbers.national_significant_number(num)
    ndc = phonenumbers.length_of_national_destination_code(num) if phonenumbers.is_valid_number(num) else 0
    # a number the metadata cannot split keeps only its country: over-coarse, never too fine
    return f"+{num.country_code} {nsn[:ndc]}" if 0 < ndc < len(nsn) else f"+{num.country_code}"


def area(text: str | None, region: str = "DE") -> str | None:
    """The anonymised form of a number field: country + area, ``client``, ``sip`` or ``unknown``."""
    if text is None or not text.strip():
        return None
    t = text.strip().lower()
    if t.startswith("client:"):
        return "client"
    if t.startswith("sip:") or "@" in t:
        return "sip"
    num = parse(text, region)
    return UNKNOWN if num is None else area_of(num)


def country(text: str | None, region: str = "DE") -> str | None:
    """The ISO region of a number (``DE``), ``None`` when it cannot be told."""
    num = parse(text, region)
    if num is None:
        return None
    code = phonenumbers.region_code_for_number(num)
    return None if code in (None, "ZZ", "001") else code


def number_table(values: pl.Series, region: str = "DE") -> pl.DataFrame:
    """Distinct ``values`` → ``number`` (as given), ``e164``, ``area``, ``country``."""
    uniq = values.drop_nulls().unique().to_list()
    return pl.DataFrame(
        {
            "number": pl.Series(uniq, dtype=pl.String),
            "e164": pl.Series([e164(v, region) for v in uniq], dtype=pl.String),
            "area": pl.Series([area(v, region) for v in uniq], dtype=pl.String),
            "country": pl.Series([country(v, region) for v in uniq], dtype=pl.String),
        }
    )


def lookup(values: pl.Series, column: str, region: str = "DE") -> pl.Series:
    """Per row of ``values``: its ``column`` (``e164``, ``area`` or ``country``) from :func:`number_table`."""
    table = number_table(values, region).select("number", column)
    out = pl.DataFrame({"number": values.cast(pl.String)}).join(table, on="number", how="left", maintain_order="left")
    return out.get_column(column).alias(values.name)
