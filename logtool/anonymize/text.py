"""Personal data in free text (call transcripts, chat messages, summaries), visibly redacted.

Markers, in the order they are applied:

* URLs: their personal parts as in URL redaction (:func:`logtool.anonymize.redact.redact`:
  e-mails, addresses, tokens, sensitive parameters);
* IP addresses → ``<ip>`` (the same patterns as every other field);
* e-mail addresses → ``<email>``, also spoken (``max dot muster at example dot com``);
* IBANs whose ISO 7064 check digits hold → ``<iban>`` (``python-stdnum``);
* card numbers (13–19 digits, spaces or dashes allowed) whose Luhn check holds → ``<card>``;
* any other run of seven or more digits, whatever the separators (spaces, dashes, dots,
  slashes, brackets, a leading ``+`` or ``00``) → ``<phone>`` when libphonenumber finds it a
  possible number, else ``<number>``; dates (``2026-11-24``, ``24.11.2026``) are kept;
* phone numbers spoken digit by digit (``zero three zero two …``, ``null drei null …``,
  seven or more digits) → ``<phone>``;
* street addresses where the pattern is reliable: a German street name ending in ``straße``,
  ``weg``, ``platz``, ``allee`` … with its house number (and a following postcode and town), an
  English house number before ``… Street``, ``Road``, ``Avenue`` … → ``<address>``.

A digit run that fails its checksum is still redacted (as ``<phone>`` or ``<number>``): the
checksums make the marker precise, not the redaction weaker. Names of people are not
recognised (no reliable pattern): that is why the policy can drop text entirely
(``conversation_text = "drop"``). Redaction is idempotent. Work is done once per distinct value,
and only values that contain a candidate (one vectorised test) go through Python.
"""

from __future__ import annotations

import re

import polars as pl
from stdnum import iban, luhn

from logtool import phones
from logtool.anonymize.fields import mask_ip_tokens
from logtool.anonymize.redact import EMAIL, redact
from logtool.config import DEFAULT_SENSITIVE_PARAMS

URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s\"'()]+")
_EMAIL = re.compile(EMAIL)
SPOKEN_EMAIL = re.compile(
    r"(?i)\b[\w.+-]+(?:\s+(?:dot|punkt)\s+[\w-]+)*\s+(?:at|ät|@)\s+[\w-]+(?:\s+(?:dot|punkt)\s+[\w-]+)+\b"
)
IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]){11,30}\b")
CARD = re.compile(r"(?<![\w+])(?:[0-9][ -]?){12,18}[0-9](?!\w)")
#: A run of digits with the separators people and speech recognisers write into numbers.
DIGIT_RUN = re.compile(r"(?<![\w<])(?:\+|\b00)?\(?[0-9][0-9\s().\/-]{5,}[0-9](?![\w>])")
_DATE = re.compile(r"^(?:\d{4}-\d{2}-\d{2}|\d{1,2}\.\d{1,2}\.\d{2,4}|\d{1,2}/\d{1,2}/\d{2,4})$")
_WORDS = {
    "zero": 1, "oh": 1, "one": 1, "two": 1, "three": 1, "four": 1, "five": 1, "six": 1, "seven": 1, "eight": 1,
    "nine": 1, "double": 0, "triple": 0, "null": 1, "eins": 1, "zwei": 1, "zwo": 1, "drei": 1, "vier": 1,
    "fünf": 1, "fuenf": 1, "sechs": 1, "sieben": 1, "acht": 1, "neun": 1, "plus": 0,
}  # fmt: skip
_W = "|".join(sorted(_WORDS, key=len, reverse=True))
SPOKEN_DIGITS = re.compile(rf"(?i)\b(?:(?:{_W}|\d+)\b[\s,.-]*){{4,}}")
_STREET_DE = r"(?:straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee|steig|pfad)"
STREET = re.compile(
    rf"(?:\b[A-ZÄÖÜ][\wäöüß.-]*{_STREET_DE}|\b[A-ZÄÖÜ][\wäöüß-]+\s+(?i:{_STREET_DE}))\s+[0-9]{{1,4}}\s?[a-zA-Z]?\b"
    r"(?:,?\s+[0-9]{5}\s+[A-ZÄÖÜ][\wäöüß-]+)?"
    r"|\b[0-9]{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Street|St\.|Avenue|Ave\.|Road|Rd\.|Lane|Ln\.|Drive|Dr\.|Boulevard|Blvd\.|Court|Place|Square|Terrace)"
)
#: Cheap vectorised test: only values matching it can change.
CANDIDATE = (
    rf"[0-9]|@|(?i:://|www\.|\bat\b|\bät\b|{_STREET_DE}|street|avenue|road|lane|drive|boulevard|court|place|"
    rf"square|terrace|(?:\b(?:{_W})\b[\s,.-]*){{4}})"
)


def _digits(text: str) -> int:
    return sum(c.isdigit() for c in text)


def _spoken_digits(m: re.Match[str]) -> str:
    tokens = re.findall(rf"(?i){_W}|\d+", m.group())
    words = [t for t in tokens if not t.isdigit()]
    n = sum(len(t) if t.isdigit() else _WORDS[t.lower()] for t in tokens)
    if n < 7 or not words:
        return m.group()
    tail = re.search(r"[\s,.-]*$", m.group())
    return "<phone>" + (tail.group() if tail else "")


def _iban(m: re.Match[str]) -> str:
    return "<iban>" if iban.is_valid(m.group()) else m.group()


def _card(m: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", m.group())
    return "<card>" if 13 <= len(digits) <= 19 and luhn.is_valid(digits) else m.group()


def _digit_run(region: str) -> re.Callable[[re.Match[str]], str]:  # type: ignore[name-defined]
    def sub(m: re.Match[str]) -> str:
        run = m.group()
        stripped = run.rstrip(" \t\n.-/(")
        rest = run[len(stripped) :]
        if _digits(stripped) < 7 or _DATE.match(stripped):
            return run
        return ("<phone>" if phones.parse(stripped, region) is not None else "<number>") + rest

    return sub


def redact_one(text: str, urls: dict[str, str], region: str = "DE") -> str:
    """Every pattern over one text; ``urls`` maps each URL in it to its redacted form."""
    out = URL.sub(lambda m: urls.get(m.group(), "<url>"), text) if urls else text
    out = _EMAIL.sub("<email>", out)
    out = SPOKEN_EMAIL.sub("<email>", out)
    out = IBAN.sub(_iban, out)
    out = CARD.sub(_card, out)
    out = DIGIT_RUN.sub(_digit_run(region), out)
    out = SPOKEN_DIGITS.sub(_spoken_digits, out)
    return STREET.sub("<address>", out)


def redact_text(
    values: pl.Series, sensitive: tuple[str, ...] = DEFAULT_SENSITIVE_PARAMS, region: str = "DE"
) -> pl.Series:
    """Redact personal data in free text; same length and order, nulls stay null."""
    name = values.name
    uniq = values.drop_nulls().unique()
    cand = uniq.filter(uniq.str.contains(CANDIDATE))
    if cand.len() == 0:
        return values
    masked = pl.select(mask_ip_tokens(pl.lit(cand))).to_series()
    texts = masked.to_list()
    found = sorted({u for t in texts for u in URL.findall(t)})
    urls = dict(zip(found, redact(pl.Series(found, dtype=pl.String), sensitive).to_list(), strict=True))
    mapping = pl.DataFrame({"v": cand, "r": [redact_one(t, urls, region) for t in texts]}).filter(
        pl.col("v") != pl.col("r")
    )
    if mapping.height == 0:
        return values
    return (
        pl.DataFrame({"v": values})
        .join(mapping, on="v", how="left", maintain_order="left")
        .select(pl.coalesce("r", "v").alias(name))
        .to_series()
    )
