"""Subject requests by phone number and e-mail address (and IP address) across web logs and
conversation records: find, export, erase (holds kept and named), restrict."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from logtool import convgen
from logtool.cli import cli
from logtool.config import Policy
from logtool.errors import ConfigError
from logtool.governance import subjects
from logtool.governance.holds import create
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.store import Store

from .conftest import DAY0, write_days

PHONE = "+493023125777"
EMAIL = "jane.subject@example.org"
IP = "203.0.113.77"
T = DAY0 + timedelta(hours=9)
NOW = DAY0 + timedelta(days=2)


def _records(folder: Path) -> list[Path]:
    gen = convgen.generate_day(DAY0, calls=6, chats=5, seed=9)
    sid = "CA" + "5a" * 16
    calls = [*gen.calls, {"sid": sid, "start_time": T.isoformat(), "duration": "95", "from": "030 23125-777",
                          "to": convgen.OWN_NUMBERS[0], "direction": "inbound", "status": "completed",
                          "caller_name": "Jane Subject"}]  # fmt: skip
    transcript = {"sid": "GT" + "5b" * 16, "media_start_time": T.isoformat(), "call_sid": sid,
                  "channel": {"participants": [{"channel_participant": 1, "role": "Customer", "media_participant_id": PHONE}]},
                  "sentences": [{"media_channel": 1, "sentence_index": 0, "start_time": "1.0", "transcript": "Hi, it's Jane."},
                                {"media_channel": 2, "sentence_index": 1, "start_time": "3.0", "transcript": "Hello Jane."}]}  # fmt: skip
    at = T + timedelta(hours=2)
    chats = [
        *gen.chats,
        {"session_id": "s-subject-1", "ts": at.isoformat(), "role": "user", "text": "Where is my parcel?",
         "client_ip": IP, "contact": {"email": EMAIL.upper()}},
        {"session_id": "s-subject-1", "ts": (at + timedelta(seconds=5)).isoformat(), "role": "bot", "text": "Let me see."},
        {"session_id": "s-subject-2", "ts": (at + timedelta(hours=1)).isoformat(), "role": "user",
         "text": f"Please write to {EMAIL.upper()} or call 0049 30 23125 777"},
        {"session_id": "s-subject-2", "ts": (at + timedelta(hours=1, seconds=9)).isoformat(), "role": "bot", "text": "Noted."},
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    out = {"calls.json": convgen.calls_page(calls), "tr.jsonl": convgen.json_lines([*gen.transcripts, transcript]),
           "chat.jsonl": convgen.json_lines(chats)}  # fmt: skip
    for name, text in out.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [folder / n for n in out]


@pytest.fixture
def filled(store: Store, tmp_path: Path) -> Store:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=200)
    line = f'{IP} - - [10/Nov/2026:08:00:00 +0000] "GET /contact HTTP/1.1" 200 512 "-" "curl/8.5.0"\n'
    form = ('198.51.100.23 - - [10/Nov/2026:08:05:00 +0000] "GET /newsletter/confirm?email=Jane.Subject%40example.org'
            '&tel=%2B49%2030%2023125%20777 HTTP/1.1" 200 99 "-" "curl/8.5.0"\n')  # fmt: skip
    (tmp_path / "logs" / "subject.log").write_text(line * 3 + form)
    files = [*logs, tmp_path / "logs" / "subject.log", *_records(tmp_path / "conv")]
    ingest(store, make_inputs([str(p) for p in files]), Policy(), NOW)
    return store


def test_find_by_phone_in_any_spelling(filled: Store) -> None:
    for spelling in (PHONE, "+49 30 23125 777", "030-23125-777", "0049 (0)30 23125777"):
        res = subjects.find(filled, None, NOW, phone=spelling)
        conv = res["conversations"]
        # the call, its transcript (linked by the call SID) and chat session 2 (the number in its text)
        assert conv["by_kind"] == {"call": 1, "utterance": 2, "message": 2}, spelling
        assert conv["conversations"] == 2 and res["identifiers"] == ["phone"]
        assert res["raw_rows"] == 1  # the web form that sent the number in its URL
    assert len({subjects.find(filled, None, NOW, phone=s)["subject"] for s in (PHONE, "030 23125777")}) == 1


def test_find_by_email_and_by_ip_joins_logs_and_chats(filled: Store) -> None:
    res = subjects.find(filled, None, NOW, email="Jane.Subject@Example.org")
    assert res["conversations"]["by_kind"] == {"message": 4}  # both sessions, bot answers included
    assert res["raw_rows"] == 1  # the newsletter link with the address in its query
    res = subjects.find(filled, IP, NOW)
    assert res["raw_rows"] == 3 and res["conversations"]["by_kind"] == {"message": 2}
    both = subjects.find(filled, IP, NOW, email=EMAIL, phone=PHONE)
    assert both["raw_rows"] == 4 and both["conversations"]["records"] == 2 + 2 + 3
    assert both["identifiers"] == ["ip", "phone", "email"]


def test_export_is_machine_readable(filled: Store) -> None:
    buf = io.BytesIO()
    n = subjects.export(filled, IP, buf, "json", NOW, email=EMAIL)
    doc = json.loads(buf.getvalue())
    assert n == 4 + 4 and len(doc["rows"]) == 4 and len(doc["conversations"]) == 4
    assert doc["subject"] == {"ip": IP, "email": EMAIL}
    assert {r["conversation_id"] for r in doc["conversations"]} == {"s-subject-1", "s-subject-2"}
    buf = io.BytesIO()
    subjects.export(filled, None, buf, "csv", NOW, phone=PHONE)
    table = pl.read_csv(io.BytesIO(buf.getvalue()), infer_schema=False)
    assert table.columns[0] == "dataset" and table["dataset"].to_list().count("web_log") == 1
    assert table.height == 6 and "Jane Subject" in table["caller_name"].to_list()
    assert [e["action"] for e in filled.catalog.audit.entries()][-2:] == ["subject-export", "subject-export"]


def test_erase_keeps_held_records_and_names_the_hold(filled: Store) -> None:
    create(filled, "INC-3", "fraud investigation", T - timedelta(minutes=1), NOW, T + timedelta(minutes=30))
    dry = subjects.erase(filled, None, NOW, dry_run=True, phone=PHONE)
    assert dry.erased_records == 2 and dry.kept_records == 3 and filled.read("conv_raw").filter(
        pl.col("conversation_id") == "s-subject-2").height == 2  # fmt: skip
    res = subjects.erase(filled, None, NOW, phone="030 23125 777")
    assert res.erased_records == 2 and res.kept_by_holds == {"INC-3": 3} and "Art. 17(3)(e)" in res.legal_ground
    left = subjects.find(filled, None, NOW, phone=PHONE)["conversations"]
    assert left["by_kind"] == {"call": 1, "utterance": 2} and left["held_by"][0]["hold"] == "INC-3"
    assert filled.read("conv_aggregates").height > 0  # aggregates are unchanged
    res = subjects.erase(filled, IP, NOW, email=EMAIL)
    assert res.erased_rows == 3 and res.erased_records == 2  # the form and session 2 went with the phone request
    assert subjects.find(filled, IP, NOW, email=EMAIL)["conversations"]["records"] == 0


def test_restrict_by_each_identifier(filled: Store) -> None:
    subjects.restrict(filled, None, NOW, email=EMAIL, phone=PHONE)
    assert subjects.find(filled, None, NOW, email=EMAIL)["restricted"]
    assert subjects.find(filled, None, NOW, phone="030 23125777")["restricted"]
    assert not subjects.find(filled, IP, NOW)["restricted"]
    subjects.restrict(filled, None, NOW, on=False, email=EMAIL)
    assert not subjects.find(filled, None, NOW, email=EMAIL)["restricted"]


def test_identifiers_are_validated(store: Store) -> None:
    with pytest.raises(ConfigError, match="name the subject"):
        subjects.find(store, None, NOW)
    with pytest.raises(ConfigError, match="not a phone number"):
        subjects.find(store, None, NOW, phone="call me")
    with pytest.raises(ConfigError, match="not an e-mail address"):
        subjects.find(store, None, NOW, email="jane")


def test_cli(filled: Store, tmp_path: Path) -> None:
    run = CliRunner()
    base = ["--store", str(filled.root), "subject"]
    r = run.invoke(cli, [*base, "find", "--phone", "+49 30 23125 777", "--now", "2026-11-12T00:00:00Z"])
    assert r.exit_code == 0 and json.loads(r.stdout)["conversations"]["records"] == 5
    r = run.invoke(cli, [*base, "find", "--now", "2026-11-12T00:00:00Z"])
    assert r.exit_code == 2 and "name the subject" in r.stderr
    r = run.invoke(cli, [*base, "export", "--email", EMAIL, "-o", str(tmp_path / "me.json")])
    assert r.exit_code == 0 and len(json.loads((tmp_path / "me.json").read_text())["conversations"]) == 4
    r = run.invoke(cli, [*base, "erase", "--email", EMAIL, "--ip", IP])
    assert r.exit_code == 0 and "erased 4 rows of subj-" in r.stderr and "4 conversation records" in r.stderr
