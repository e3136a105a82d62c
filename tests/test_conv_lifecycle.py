"""Conversation records through the store: ingest, retention windows (injected ``now``), holds,
verify, status, the audit trail, the report section and the CLI."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from logtool import convgen
from logtool.cli import cli
from logtool.config import Policy
from logtool.governance.holds import create
from logtool.governance.status import status
from logtool.governance.verify import verify
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.render import ReportFormat, render_report
from logtool.report import build
from logtool.store import Store

from .conftest import DAY0

DAYS = 3


def write_conversations(folder: Path, days: int = DAYS, first: datetime = DAY0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        gen = convgen.generate_day(day, calls=12, chats=8, seed=3)
        for name, text in ((f"calls-{i}.json", convgen.calls_page(gen.calls)),
                           (f"transcripts-{i}.jsonl", convgen.json_lines(gen.transcripts)),
                           (f"chat-{i}.jsonl", convgen.json_lines(gen.chats))):  # fmt: skip
            (folder / name).write_text(text, encoding="utf-8")
            out.append(folder / name)
    return out


@pytest.fixture
def conv_files(tmp_path: Path) -> list[Path]:
    return write_conversations(tmp_path / "conv")


def days_of(store: Store, stage: str) -> list[str]:
    return sorted({p.date for p in store.parts(stage)})


def test_ingest_detects_every_input_and_is_idempotent(store: Store, conv_files: list[Path], policy: Policy) -> None:
    res = ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    assert {r.format for r in res} == {"twilio_calls", "twilio_transcripts", "chat_jsonl"}
    assert all(r.status == "ingested" and r.rejected == 0 for r in res)
    assert (
        days_of(store, "conv_raw")
        == days_of(store, "conv_aggregates")
        == [(DAY0 + timedelta(days=i)).date().isoformat() for i in range(DAYS)]
    )
    rows = store.read("conv_raw").height
    again = ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    assert {r.status for r in again} == {"duplicate"} and store.read("conv_raw").height == rows
    agg = store.read("conv_aggregates")
    calls = agg.filter((pl.col("dimension") == "records") & (pl.col("key") == "call"))["count"].sum()
    assert calls == DAYS * 12
    ingests = [e for e in store.catalog.audit.entries() if e["action"] == "ingest"]
    assert len(ingests) == len(conv_files) and all('"stage": "conv_raw"' in e["counts"] for e in ingests)


def test_aggregates_count_a_session_split_over_files_once(store: Store, tmp_path: Path, policy: Policy) -> None:
    chats = convgen.generate_day(DAY0, calls=0, chats=4).chats
    half = len(chats) // 2
    (tmp_path / "a.jsonl").write_text(convgen.json_lines(chats[:half]))
    (tmp_path / "b.jsonl").write_text(convgen.json_lines(chats[half:]))
    for name in ("a.jsonl", "b.jsonl"):
        ingest(store, make_inputs([str(tmp_path / name)]), policy, DAY0 + timedelta(days=1))
    agg = store.read("conv_aggregates")
    assert len(store.parts("conv_aggregates")) == 1  # the day's aggregates were replaced, not added to
    chat = agg.filter((pl.col("dimension") == "channel") & (pl.col("key") == "chat"))["count"].item()
    assert chat == 4


def test_retention_windows(store: Store, conv_files: list[Path]) -> None:
    policy = Policy(conversations_raw_days=2, conversations_anonymised_days=5)
    ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    d0, d1, d2 = (str((DAY0 + timedelta(days=i)).date()) for i in range(DAYS))
    # day 0 ends at DAY0 + 1 day: it leaves raw once that is 2 days ago, not a minute earlier
    r = retain(store, policy, DAY0 + timedelta(days=3) - timedelta(minutes=1))
    assert r.conversations.anonymised_days == [] and days_of(store, "conv_raw") == [d0, d1, d2]
    r = retain(store, policy, DAY0 + timedelta(days=3))
    assert r.conversations.anonymised_days == [d0] and days_of(store, "conv_anonymised") == [d0]
    assert retain(store, policy, DAY0 + timedelta(days=3)).conversations.anonymised_days == []  # idempotent
    r = retain(store, policy, DAY0 + timedelta(days=6))
    assert r.conversations.deleted_days == [d0] and days_of(store, "conv_anonymised") == [d1, d2]
    r = retain(store, policy, DAY0 + timedelta(days=30))
    assert days_of(store, "conv_raw") == days_of(store, "conv_anonymised") == []
    assert days_of(store, "conv_aggregates") == [d0, d1, d2]  # aggregates are kept
    actions = [e["action"] for e in store.catalog.audit.entries()]
    assert "conversations-anonymise-day" in actions and "conversations-delete-day" in actions
    assert verify(store, policy, DAY0 + timedelta(days=30)) == []


def test_web_log_windows_do_not_touch_conversations(store: Store, conv_files: list[Path]) -> None:
    policy = Policy(raw_days=0, anonymised_days=0)
    ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    retain(store, policy, DAY0 + timedelta(days=DAYS + 1))
    assert len(days_of(store, "conv_raw")) == DAYS


def test_holds_keep_conversations(store: Store, conv_files: list[Path]) -> None:
    policy = Policy(conversations_raw_days=1, conversations_anonymised_days=2)
    ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    now = DAY0 + timedelta(days=DAYS)
    create(store, "INC-9", "fraud calls", DAY0, now, DAY0 + timedelta(hours=12))
    create(store, "INC-10", "chat abuse", DAY0 + timedelta(hours=12), now, DAY0 + timedelta(days=1),
           networks=["203.0.113.0/24"])  # fmt: skip
    raw = store.read("conv_raw")
    morning = raw.filter(pl.col("ts") < DAY0 + timedelta(hours=12)).height
    r = retain(store, policy, DAY0 + timedelta(days=30))
    kept = store.read("conv_raw")
    assert r.conversations.held_rows > 0 and kept.height >= morning
    assert kept.filter(pl.col("ts") >= DAY0 + timedelta(hours=12)).get_column("client_ip").str.starts_with(
        "203.0.113.").all()  # fmt: skip
    assert verify(store, policy, DAY0 + timedelta(days=30)) == []  # held records are not overdue


def test_verify_finds_overdue_days_and_personal_data(store: Store, conv_files: list[Path], policy: Policy) -> None:
    ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    late = DAY0 + timedelta(days=policy.conversations_raw_days + DAYS + 1)
    kinds = {p.kind for p in verify(store, policy, late)}
    assert kinds == {"overdue"}
    assert status(store, policy, late)["overdue_conversation_records"]["conv_raw"] == store.read("conv_raw").height
    retain(store, policy, late)
    assert verify(store, policy, late) == []
    # plant a number into the anonymised stage behind retention's back
    part = store.parts("conv_anonymised")[0]
    df = store.read_parts([part], "conv_anonymised").with_columns(pl.lit("call +1 201 555 0142").alias("text"))
    with store.change("test-plant", late) as ch:
        ch.writer("conv_anonymised").write(df)
        ch.retire([part])
    problems = verify(store, policy, late)
    assert [p.kind for p in problems] == ["personal-data"] and "555" not in problems[0].detail


def test_report_has_a_conversations_section(store: Store, conv_files: list[Path], day_logs: list[Path]) -> None:
    policy = Policy(min_group_size=3)
    ingest(store, make_inputs([str(p) for p in [*day_logs, *conv_files]]), policy, DAY0 + timedelta(days=DAYS))
    rep = build(store, policy)
    assert rep.conversations is not None and rep.requests > 0
    assert rep.conversations.calls == DAYS * 12 and len(rep.conversations.days) == DAYS
    assert all(r["count"] >= 3 for r in rep.conversations.sections["country"] if r["key"] != "(other)")
    doc = json.loads(render_report(rep, ReportFormat.json))
    assert doc["conversations"]["calls"] == DAYS * 12 and "functions" in doc["conversations"]["sections"]
    text = render_report(rep, ReportFormat.table)
    assert "Access report" in text and "Conversations per day" in text and "Functions the bots used" in text
    only = build(store, policy, "2020-01-01", "2020-01-02")
    assert only.conversations is None


def test_report_of_conversations_alone(store: Store, conv_files: list[Path], policy: Policy) -> None:
    ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    text = render_report(build(store, policy), ReportFormat.table)
    assert "Conversations per day" in text and "No aggregates" not in text


def test_cli(tmp_path: Path, conv_files: list[Path]) -> None:
    from click.testing import CliRunner

    run = CliRunner()
    base = ["--store", str(tmp_path / "st")]
    r = run.invoke(cli, [*base, "ingest", "--now", "2026-11-14T00:00:00Z", *map(str, conv_files)])
    assert r.exit_code == 0, r.output
    assert "as twilio_calls" in r.stderr and "as chat_jsonl" in r.stderr
    r = run.invoke(cli, [*base, "retain", "--now", "2026-12-20T00:00:00Z", "--conversations-raw-days", "30"])
    assert r.exit_code == 0 and "conversations: anonymise 3 days" in r.stderr
    r = run.invoke(cli, [*base, "status", "--format", "json", "--now", "2026-12-20T00:00:00Z"])
    st = json.loads(r.stdout)
    assert st["stages"]["conv_anonymised"]["rows"] > 0 and st["policy"]["conversations_raw_days"] == 30
    r = run.invoke(cli, ["formats"])
    assert all(name in r.stdout for name in ("twilio_calls", "twilio_calls_csv", "twilio_transcripts", "chat_jsonl"))
    r = run.invoke(cli, [*base, "retain", "--conversation-text", "keep"])
    assert r.exit_code == 2 and "conversation_text must be one of redact, drop" in r.stderr


def test_chat_json_map(store: Store, tmp_path: Path, policy: Policy) -> None:
    from logtool.errors import ConfigError
    from logtool.parsers import choose_format

    lines = [{"conversation": {"id": "c1"}, "created_at": "2026-11-10T10:00:00Z", "author": "assistant",
              "body": "Hi! Mail us at help@example.com"},
             {"conversation": {"id": "c1"}, "created_at": 1794304860, "author": "visitor", "body": "thanks"}]  # fmt: skip
    (tmp_path / "other.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    fmt = choose_format(json_map="session_id=conversation.id,ts=created_at,role=author,text=body")
    [res] = ingest(store, make_inputs([str(tmp_path / "other.jsonl")]), policy, DAY0 + timedelta(days=1), fmt)
    assert res.format == "chat-custom" and res.parsed == 2
    assert store.read("conv_raw").sort("ts").get_column("role").to_list() == ["bot", "user"]
    with pytest.raises(ConfigError, match="unknown chat field 'colour'"):
        choose_format(json_map="session_id=a,colour=b")


def test_anonymize_refuses_conversation_files(conv_files: list[Path], run) -> None:
    r = run("anonymize", str(conv_files[2]))
    assert r.exit_code == 3 and "holds conversation records (chat_jsonl)" in r.stderr


def test_evidence_bundle_holds_the_held_conversations(store: Store, conv_files: list[Path], tmp_path: Path) -> None:
    from logtool.governance.bundle import export_bundle, verify_bundle

    policy = Policy()
    ingest(store, make_inputs([str(p) for p in conv_files]), policy, DAY0 + timedelta(days=DAYS))
    now = DAY0 + timedelta(days=DAYS)
    create(store, "INC-11", "chat abuse", DAY0, now, DAY0 + timedelta(days=1), networks=["203.0.113.0/24"])
    manifest = export_bundle(store, "INC-11", tmp_path / "bundle", now)
    conv = pl.read_parquet(tmp_path / "bundle" / "conversations.parquet")
    assert manifest["conversation_records"] == conv.height > 0
    assert conv.get_column("client_ip").str.starts_with("203.0.113.").all()
    assert verify_bundle(tmp_path / "bundle") == []
    audit = [e for e in store.catalog.audit.entries() if e["action"] == "hold-export"]
    assert len(audit) == 1 and f'"conversation_records": {conv.height}' in audit[0]["params"]


def test_html_report_has_the_conversations_panel(store: Store, conv_files: list[Path], tmp_path: Path) -> None:
    policy = Policy(min_group_size=2)
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(json.dumps({"session_id": "x", "ts": "2026-11-10T10:00:00Z", "role": "user", "text": "hi",
                                   "functions": ["<script>alert(1)</script>"]}) + "\n")  # fmt: skip
    ingest(store, make_inputs([str(p) for p in [*conv_files, hostile]]), policy, DAY0 + timedelta(days=DAYS))
    page = render_report(build(store, Policy(min_group_size=1)), ReportFormat.html)
    assert 'id="conversations"' in page and 'data-conversations="functions"' in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Conversations per day" in page
