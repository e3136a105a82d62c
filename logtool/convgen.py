"""A deterministic generator of call-bot and chat-bot records for demo, tests, golden files, bench.

Same seed, same records. Phone numbers come only from ranges reserved for fiction: North
American ``555-0100``–``555-0199`` in any area code, Ofcom's drama numbers ``020 7946 0000``–
``0999`` (London), the Bundesnetzagentur's ranges for film and television (``030 23125 xxx``,
``040 66969 xxx``, ``069 90009 xxx``, ``089 99998 xxx``, ``0221 4710 xxx``). E-mail addresses use
``example.com/.net/.org``, client addresses the documentation networks, IBANs a documentation
bank code with valid check digits, cards the issuers' public test numbers. Some records carry
personal data in their text on purpose (numbers spoken and written, e-mails, IBANs, cards,
addresses), so the redaction has something to find.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from stdnum import iban as _iban

US_AREAS = ("201", "212", "415", "617", "312")
DE_RANGES = ("30 23125", "40 66969", "69 90009", "89 99998", "221 4710")
#: The company's own numbers (the call bot's lines).
OWN_NUMBERS = ("+493023125000", "+12015550100")
TEST_CARDS = ("4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881", "3782 822463 10005")
FUNCTIONS = ("lookup_order", "book_appointment", "opening_hours", "handover_to_human", "send_invoice")
PAGES = ("https://www.example.org/", "https://www.example.org/shop", "https://www.example.org/contact",
         "https://www.example.org/help?topic=returns", "https://www.example.org/account?session=3f9a8b7c6d5e4f3a")  # fmt: skip
AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
)  # fmt: skip
NAMES = ("Jane Example", "Max Mustermann", "Erika Musterfrau", "John Doe", "Joe Bloggs")
STREETS = ("Musterstraße 12", "Beispielweg 3a", "Hauptstraße 101, 10115 Berlin", "221 Baker Street", "42 Elm Road")


def fictional_number(rng: random.Random) -> str:
    """A fictional number in E.164."""
    kind = rng.random()
    if kind < 0.4:
        return f"+1{rng.choice(US_AREAS)}55501{rng.randrange(100):02d}"
    if kind < 0.6:
        return f"+442079460{rng.randrange(1000):03d}"
    return "+49" + rng.choice(DE_RANGES).replace(" ", "") + f"{rng.randrange(1000):03d}"


def spell(number: str, rng: random.Random) -> str:
    """The same number in one of the ways people write or say it."""
    cc = "1" if number.startswith("+1") else "44" if number.startswith("+44") else "49"
    nsn = number[1 + len(cc) :]
    style = rng.randrange(7)
    if style == 0:
        return number
    if style == 1:
        return f"+{cc} {nsn[:3]} {nsn[3:6]} {nsn[6:]}"
    if style == 2:
        return f"00{cc} {nsn[:2]}-{nsn[2:]}"
    if style == 3 and cc == "1":
        return f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
    if style == 3:
        return f"0{nsn[:2]} {nsn[2:7]} {nsn[7:]}"
    if style == 4:
        return f"+{cc} ({nsn[:3]}) {nsn[3:]}"
    if style == 5:
        words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        return " ".join(words[int(d)] for d in ("0" + nsn if cc == "49" else nsn))
    return f"+{cc}.{nsn[:3]}.{nsn[3:6]}.{nsn[6:]}"


def fictional_iban(rng: random.Random) -> str:
    body = "37040044" + f"{rng.randrange(10**10):010d}"
    check = _iban.calc_check_digits("DE00" + body)
    raw = f"DE{check}{body}"
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def client_ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return f"2001:db8:{rng.randrange(1 << 16):x}::{rng.randrange(1 << 16):x}"
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"


@dataclass
class ConvDay:
    """One day of generated records and the personal values planted in them."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    transcripts: list[dict[str, Any]] = field(default_factory=list)
    chats: list[dict[str, Any]] = field(default_factory=list)
    #: Personal values in their canonical spelling: numbers (E.164), e-mails, IBANs, cards.
    planted: set[str] = field(default_factory=set)


def _sid(prefix: str, rng: random.Random) -> str:
    return prefix + f"{rng.getrandbits(128):032x}"


def _pii_sentence(rng: random.Random, day: ConvDay, number: str) -> str:
    kind = rng.randrange(5)
    if kind == 0:
        day.planted.add(number)
        return f"You can reach me on {spell(number, rng)}."
    if kind == 1:
        email = f"{rng.choice(('jane', 'max.mustermann', 'erika_m', 'j.doe'))}{rng.randrange(100)}@example.{rng.choice(('com', 'net', 'org'))}"
        day.planted.add(email)
        return f"My e-mail is {email}, thanks."
    if kind == 2:
        account = fictional_iban(rng)
        day.planted.add(account.replace(" ", ""))
        return f"My IBAN is {account}."
    if kind == 3:
        card = rng.choice(TEST_CARDS)
        day.planted.add(card.replace(" ", ""))
        return f"The card number is {card}, expiry 12/29."
    return f"Please send it to {rng.choice(STREETS)}."


_SMALL_TALK = ("Hello, this is the assistant of Example Ltd. How can I help?", "I would like to change my appointment.",
               "Of course. Which day suits you?", "Next Tuesday in the morning, if possible.",
               "Done. Is there anything else?", "No, that's all. Thank you!", "Thank you for calling. Goodbye.")  # fmt: skip


def generate_day(day: datetime, calls: int = 40, chats: int = 30, seed: int = 1, sentences: int = 8) -> ConvDay:
    """``calls`` calls (with transcripts of about ``sentences`` sentences for the answered ones)
    and ``chats`` chat sessions on the UTC ``day``."""
    rng = random.Random(f"{seed}-{day:%Y%m%d}")
    out = ConvDay()
    base = day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)
    for _ in range(calls):
        start = base + timedelta(seconds=rng.randrange(7 * 3600, 21 * 3600))
        inbound = rng.random() < 0.8
        other = fictional_number(rng)
        status = rng.choices(("completed", "no-answer", "busy", "failed", "canceled"), (80, 8, 5, 4, 3))[0]
        duration = int(rng.expovariate(1 / 150)) + 5 if status == "completed" else 0
        sid = _sid("CA", rng)
        rec = {
            "sid": sid, "account_sid": "AC" + "0" * 32, "date_created": format_datetime(start - timedelta(seconds=2)),
            "date_updated": format_datetime(start + timedelta(seconds=duration + 1)),
            "start_time": format_datetime(start), "end_time": format_datetime(start + timedelta(seconds=duration)),
            "duration": str(duration), "from": other if inbound else OWN_NUMBERS[0],
            "to": OWN_NUMBERS[0] if inbound else other, "direction": "inbound" if inbound else "outbound-api",
            "status": status, "price": f"-{0.0085 * (duration // 60 + 1):.4f}", "price_unit": "USD",
            "caller_name": rng.choice(NAMES) if inbound and rng.random() < 0.3 else None,
            "answered_by": rng.choice(("human", "machine_start")) if not inbound and status == "completed" else None,
            "forwarded_from": fictional_number(rng) if inbound and rng.random() < 0.1 else None,
            "parent_call_sid": None, "api_version": "2010-04-01",
        }  # fmt: skip
        rec["from_formatted"], rec["to_formatted"] = rec["from"], rec["to"]
        out.planted.add(other)
        if rec["caller_name"]:
            out.planted.add(rec["caller_name"])
        out.calls.append(rec)
        if status == "completed":
            out.transcripts.append(_transcript(rng, out, rec, start, other, sentences))
    for _ in range(chats):
        _chat(rng, out, base + timedelta(seconds=rng.randrange(6 * 3600, 23 * 3600)))
    return out


def _transcript(rng: random.Random, out: ConvDay, call: dict[str, Any], start: datetime, other: str,
                n: int) -> dict[str, Any]:  # fmt: skip
    sentences, t = [], 0.3
    for i in range(max(2, n + rng.randrange(-2, 3))):
        channel = 2 if i % 2 == 0 else 1
        said = _pii_sentence(rng, out, other) if channel == 1 and rng.random() < 0.3 else rng.choice(_SMALL_TALK)
        length = round(0.8 + len(said) / 14, 2)
        sentences.append({"media_channel": channel, "sentence_index": i, "start_time": f"{t:.2f}",
                          "end_time": f"{t + length:.2f}", "transcript": said, "sid": _sid("GX", rng),
                          "confidence": "0.93"})  # fmt: skip
        t += length + 0.4
    return {
        "sid": _sid("GT", rng), "account_sid": call["account_sid"], "service_sid": "GA" + "0" * 32,
        "date_created": (start + timedelta(seconds=int(t) + 30)).isoformat().replace("+00:00", "Z"),
        "media_start_time": start.isoformat().replace("+00:00", "Z"), "status": "completed", "language_code": "en-US",
        "channel": {"media_properties": {"reference_sids": {"call_sid": call["sid"]}},
                    "participants": [{"channel_participant": 1, "role": "Customer", "media_participant_id": other},
                                     {"channel_participant": 2, "role": "Agent"}]},
        "summary": "Caller changed an appointment. " + (f"Callback on {spell(other, rng)}." if rng.random() < 0.3 else ""),
        "sentences": sentences,
    }  # fmt: skip


def _chat(rng: random.Random, out: ConvDay, start: datetime) -> None:
    session = f"s-{rng.getrandbits(48):012x}"
    ip, ua, page = client_ip(rng), rng.choice(AGENTS), rng.choice(PAGES)
    contact: dict[str, str] = {}
    if rng.random() < 0.4:
        contact = {"name": rng.choice(NAMES), "email": f"visitor{rng.randrange(1000)}@example.net"}
        if rng.random() < 0.5:
            contact["phone"] = spell(fictional_number(rng), rng)
        out.planted.add(contact["email"])
    t = start
    for i in range(rng.randrange(2, 9)):
        user = i % 2 == 0
        if user:
            text = (
                _pii_sentence(rng, out, fictional_number(rng))
                if rng.random() < 0.25
                else rng.choice(
                    ("Do you ship to Austria?", "Where is my order?", "Can I talk to a person?", "What are your hours?")
                )
            )
        else:
            text = rng.choice(("We ship to all EU countries.", "Let me look that up for you.",
                               "Our hours are 9:00 to 18:00.", "I am handing you over to a colleague."))  # fmt: skip
        msg: dict[str, Any] = {"session_id": session, "message_id": f"{session}-{i}", "ts": t.isoformat(),
                               "role": "user" if user else "bot", "text": text}  # fmt: skip
        if i == 0:
            msg.update({"client_ip": ip, "user_agent": ua, "page": page})
            if contact:
                msg["contact"] = contact
        if not user and rng.random() < 0.5:
            msg["functions"] = rng.sample(FUNCTIONS, rng.randrange(1, 3))
        out.chats.append(msg)
        t += timedelta(seconds=rng.randrange(3, 90))
    out.chats[-1]["outcome"] = rng.choice(("resolved", "resolved", "handover", "abandoned"))


# writers: the shapes the exports have ----------------------------------------------------------
def calls_page(calls: list[dict[str, Any]]) -> str:
    """A REST API page (``GET …/Calls.json``), pretty-printed."""
    doc = {"calls": calls, "end": len(calls) - 1, "first_page_uri": "/2010-04-01/Accounts/AC/Calls.json?PageSize=50&Page=0",
           "next_page_uri": None, "page": 0, "page_size": 50, "previous_page_uri": None, "start": 0,
           "uri": "/2010-04-01/Accounts/AC/Calls.json?PageSize=50&Page=0"}  # fmt: skip
    return json.dumps(doc, indent=2) + "\n"


def json_lines(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


CSV_HEADER = ("Call Sid", "Date Created", "Start Time", "End Time", "Duration", "From", "To", "Direction", "Status",
              "Price", "Price Unit", "Caller Name", "Answered By", "Forwarded From", "Parent Call Sid")  # fmt: skip


def calls_csv(calls: list[dict[str, Any]]) -> str:
    """The console's call-log export: a header, one row per call, ``YYYY-MM-DD HH:MM:SS UTC`` times."""
    from email.utils import parsedate_to_datetime

    def t(v: str | None) -> str:
        return parsedate_to_datetime(v).strftime("%Y-%m-%d %H:%M:%S UTC") if v else ""

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for c in calls:
        w.writerow([c["sid"], t(c["date_created"]), t(c["start_time"]), t(c["end_time"]), c["duration"], c["from"],
                    c["to"], c["direction"], c["status"], c["price"], c["price_unit"], c["caller_name"] or "",
                    c["answered_by"] or "", c["forwarded_from"] or "", c["parent_call_sid"] or ""])  # fmt: skip
    return buf.getvalue()


# golden files ----------------------------------------------------------------------------------
GOLDEN_DAY = datetime(2026, 11, 24, tzinfo=UTC)


def golden_cases() -> dict[str, dict[str, str]]:
    """Format → file name → content of the golden inputs in ``tests/cases/conversations/``:
    generated records plus the broken ones each format must quarantine (with personal data in
    them, which the quarantine must mask)."""
    day = generate_day(GOLDEN_DAY, calls=4, chats=2, seed=16, sentences=4)
    calls, transcripts = day.calls, day.transcripts
    no_sid = {**calls[0], "sid": None, "caller_name": "Jane Example", "from": "+12015550142"}
    bad_time = {**calls[1], "sid": "CA" + "f" * 32, "start_time": "yesterday", "date_created": None}
    page = json.loads(calls_page([*calls, no_sid, bad_time]))
    untimed = {**transcripts[0], "media_start_time": None, "date_created": None}
    return {
        "twilio_calls": {
            "page.json": json.dumps(page, indent=2) + "\n",
            "lines.jsonl": json_lines(calls[:3]) + '{"sid": "CA' + "0" * 31 + ', "from": "+442079460123"\n[1, 2]\n',
        },
        "twilio_calls_csv": {
            "export.csv": calls_csv(calls) + "CA" + "e" * 32 + ",Jane Example,+12015550199\n",
        },
        "twilio_transcripts": {
            "transcripts.jsonl": json_lines([*transcripts, untimed]),
            "transcript.json": json.dumps(
                {**transcripts[0], "sentences": [*transcripts[0]["sentences"], "Call me on 030 23125 188"]}, indent=2
            )
            + "\n",  # fmt: skip
        },
        "chat_jsonl": {
            "chat.jsonl": json_lines(day.chats)
            + '{"ts": "2026-11-24T12:00:00Z", "role": "user", "text": "mail me: jane@example.org"}\n'
            + '{"session_id": "s-1", "ts": "2026-11-24T12:00:00Z", "text": "call +49 30 23125 777" \n',
        },
    }
