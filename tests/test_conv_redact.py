"""Phone numbers to country + area, free-text redaction, and the property that no planted phone
number, e-mail address, IBAN or card number survives anonymisation, aggregates, quarantine or a
report."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logtool import convgen, phones
from logtool.anonymize.text import redact_text
from logtool.config import Policy
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.parsers import get_format
from logtool.render import ReportFormat, render_report
from logtool.report import build
from logtool.store import Store

from .conftest import DAY0, EXAMPLES


@pytest.mark.parametrize(
    ("number", "area", "country"),
    [
        ("+49 30 23125 123", "+49 30", "DE"),
        ("030/23125-123", "+49 30", "DE"),
        ("0049 (0)69 90009 123", "+49 69", "DE"),
        ("+49 221 4710 123", "+49 221", "DE"),
        ("+1 201-555-0123", "+1 201", "US"),
        ("+1 (212) 555 0199", "+1 212", "US"),
        ("+44 20 7946 0958", "+44 20", "GB"),
        ("tel:+442079460958", "+44 20", "GB"),
        ("client:alice", "client", None),
        ("sip:bot@example.com", "sip", None),
        ("anonymous", "unknown", None),
        ("+4930", "unknown", None),
    ],
)
def test_numbers_keep_only_country_and_area(number: str, area: str, country: str | None) -> None:
    assert phones.area(number) == area
    assert phones.country(number) == country


def test_every_spelling_of_a_number_is_the_same_number() -> None:
    spellings = ["+493023125123", "+49 30 23125123", "030 23125 123", "030-23125-123", "0049 30 23125123",
                 "(030) 23125123", "+49 (0)30 23125 123"]  # fmt: skip
    assert {phones.e164(s) for s in spellings} == {"+493023125123"}
    assert phones.e164("020 7946 0958", "GB") == "+442079460958"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call me on +49 30 23125 123, thanks", "call me on <phone>, thanks"),
        ("or (201) 555-0142 in the evening", "or <phone> in the evening"),
        ("zero three zero two three one two five one two three", "<phone>"),
        ("null drei null zwei drei eins zwei fünf eins zwei drei", "<phone>"),
        ("mail max.muster@example.com now", "mail <email> now"),
        ("max dot muster at example dot com", "<email>"),
        ("IBAN DE89 3704 0044 0532 0130 00.", "IBAN <iban>."),
        ("card 4111 1111 1111 1111 exp 12/29", "card <card> exp 12/29"),
        ("card 4111-1111-1111-1112", "card <number>"),  # Luhn fails: still redacted
        ("Hauptstraße 12a, 10115 Berlin", "<address>"),
        ("ship to 221 Baker Street please", "ship to <address> please"),
        ("from 203.0.113.7 today", "from <ip> today"),
        ("see https://example.org/reset?token=abc123def456", "see https://example.org/reset?token=<redacted>"),
        ("on 2026-11-24 at 10:00, 3 items", "on 2026-11-24 at 10:00, 3 items"),
        ("I have one or two questions", "I have one or two questions"),
    ],
)
def test_text_redaction(text: str, expected: str) -> None:
    out = redact_text(pl.Series([text]))
    assert out.to_list() == [expected]
    assert redact_text(out).to_list() == [expected]  # idempotent


def test_redaction_keeps_order_length_and_nulls() -> None:
    s = pl.Series("text", ["a", None, "+1 201 555 0100", "a"])
    assert redact_text(s).to_list() == ["a", None, "<phone>", "a"]


# the property ----------------------------------------------------------------------------------
_CARDS = st.sampled_from(convgen.TEST_CARDS)
_NUMBERS = st.builds(lambda r: convgen.fictional_number(r), st.randoms(use_true_random=False))
_NAME = st.from_regex(r"[a-z][a-z0-9._-]{0,10}[a-z0-9]", fullmatch=True)
_EMAILS = st.builds(lambda n, d: f"{n}@example.{d}", _NAME, st.sampled_from(["com", "net", "org"]))
_IBANS = st.builds(lambda r: convgen.fictional_iban(r), st.randoms(use_true_random=False))
_FILLER = st.sampled_from(["Hello.", "my number is", "you can write to", "IBAN:", "card", "thanks!", "", "ok,"])


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _leaks(text: str, planted: list[tuple[str, str]]) -> list[str]:
    """Planted values found in ``text``: e-mails as they are (case-insensitive), numbers, IBANs
    and cards by their digits in any run of digits and separators."""
    low = text.lower()
    runs = [_digits(r) for r in re.findall(r"(?<![A-Za-z0-9])[0-9][0-9 ()./+-]*", text)]
    out = []
    for kind, value in planted:
        if kind == "email":
            if value.lower() in low:
                out.append(value)
        else:
            tail = _digits(value)[-7:]
            if any(tail in r for r in runs):
                out.append(value)
    return out


@settings(max_examples=8 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    numbers=st.lists(_NUMBERS, min_size=1, max_size=4),
    emails=st.lists(_EMAILS, min_size=1, max_size=3),
    ibans=st.lists(_IBANS, min_size=0, max_size=2),
    cards=st.lists(_CARDS, min_size=0, max_size=2),
)
def test_no_planted_value_survives(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                                   numbers: list[str], emails: list[str], ibans: list[str], cards: list[str]) -> None:  # fmt: skip
    rnd = data.draw(st.randoms(use_true_random=False))
    planted = [("phone", n) for n in numbers] + [("email", e) for e in emails]
    planted += [("iban", i) for i in ibans] + [("card", c) for c in cards]
    said = []
    for kind, value in planted:
        shown = (
            convgen.spell(value, rnd)
            if kind == "phone"
            else value.upper()
            if kind == "email" and rnd.random() < 0.2
            else value
        )
        said.append(f"{data.draw(_FILLER)} {shown} {data.draw(_FILLER)}".strip())
    folder = tmp_path_factory.mktemp("planted")
    ts = DAY0 + timedelta(hours=10)
    chats = [{"session_id": f"s-{i}", "ts": (ts + timedelta(seconds=i)).isoformat(), "role": "user", "text": t,
              "contact": {"email": emails[0], "phone": numbers[0], "name": "Jane Example"}, "client_ip": "203.0.113.9",
              "summary": t, "page": f"https://www.example.org/?email={emails[0]}"} for i, t in enumerate(said)]  # fmt: skip
    call = {"sid": "CA" + "ab" * 16, "start_time": ts.isoformat(), "duration": "60", "from": numbers[0],
            "to": convgen.OWN_NUMBERS[0], "direction": "inbound", "status": "completed", "caller_name": "Jane Example",
            "forwarded_from": numbers[-1]}  # fmt: skip
    transcript = {"sid": "GT" + "cd" * 16, "media_start_time": ts.isoformat(), "call_sid": call["sid"],
                  "sentences": [{"media_channel": 1, "sentence_index": i, "start_time": str(i), "transcript": t}
                                for i, t in enumerate(said)]}  # fmt: skip
    broken = [json.dumps({"ts": ts.isoformat(), "text": t}) for t in said] + [
        f'{{"session_id": "x", "text": "{t}"' for t in said
    ]
    (folder / "chat.jsonl").write_text("".join(json.dumps(c) + "\n" for c in chats) + "\n".join(broken) + "\n")
    (folder / "calls.jsonl").write_text(
        json.dumps(call) + "\n" + '{"sid": "CA' + "ef" * 16 + f'", "from": "{numbers[0]}"\n'
    )
    (folder / "transcripts.jsonl").write_text(json.dumps(transcript) + "\n")
    store = Store(folder / "store")
    policy = Policy(min_group_size=1)
    try:
        later = ts + timedelta(hours=1)
        ingest(store, make_inputs([str(folder / "chat.jsonl")]), policy, later, get_format("chat_jsonl"))
        ingest(store, make_inputs([str(folder / n) for n in ("calls.jsonl", "transcripts.jsonl")]), policy, later)
        assert store.read("quarantine").height >= 2 * len(said)
        report_before = render_report(build(store, policy), ReportFormat.json)
        retain(store, policy, ts + timedelta(days=policy.conversations_raw_days + 2))
        assert store.read("conv_raw").height == 0 and store.read("conv_anonymised").height > 0
        outputs = {stage: store.read(stage) for stage in ("conv_anonymised", "conv_aggregates", "quarantine")}
        texts = {
            k: "\n".join(str(v) for row in df.iter_rows() for v in row if v is not None) for k, df in outputs.items()
        }
        texts["report"] = report_before + render_report(build(store, policy), ReportFormat.table)
        for where, text in texts.items():
            assert not _leaks(text, planted), (where, _leaks(text, planted))
            assert "Jane Example" not in text, where
    finally:
        store.close()


def test_the_leak_check_can_fail() -> None:
    assert _leaks("call +1 (201) 555-0142", [("phone", "+12015550142")])
    assert _leaks("JANE@EXAMPLE.ORG", [("email", "jane@example.org")])
    assert not _leaks("call <phone>", [("phone", "+12015550142")])


def test_conversation_text_drop(tmp_path: Path, store: Store) -> None:
    (tmp_path / "c.jsonl").write_text(convgen.json_lines(convgen.generate_day(DAY0, calls=0, chats=3).chats))
    ingest(store, make_inputs([str(tmp_path / "c.jsonl")]), Policy(), DAY0 + timedelta(days=1))
    retain(store, Policy(conversation_text="drop"), DAY0 + timedelta(days=40))
    anon = store.read("conv_anonymised")
    assert anon.height > 0 and anon.get_column("text").null_count() == anon.height
