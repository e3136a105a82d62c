"""The audit trail: every change is recorded, and any tampering breaks the chain."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.governance.audit import verify_chain
from logtool.governance.export import ExportFormat, export
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.store import Store

from .conftest import NOW, write_days


@pytest.fixture
def audited(store: Store, tmp_path: Path) -> Store:
    logs = write_days(tmp_path / "logs", n_days=3, per_day=200)
    ingest(store, make_inputs([str(p) for p in logs]), Policy(), NOW)
    retain(store, Policy(), NOW)  # all three days leave the raw stage
    export(store, "anonymised", io.BytesIO(), NOW, ExportFormat.csv)
    return store


def test_every_change_is_recorded_without_personal_data(audited: Store) -> None:
    entries = audited.catalog.audit.entries()
    assert [e["action"] for e in entries] == ["ingest"] * 3 + ["anonymise-day"] * 3 + ["export"]
    first = json.loads(entries[3]["counts"])
    assert first["salts_destroyed"] == ["2026-11-10"] and first["rows_written"] > 0
    raw_ips = set()
    for p in write_days(Path("x"), n_days=3, per_day=200):
        raw_ips |= {line.split(" ")[0] for line in p.read_text().splitlines() if line}
    text = json.dumps(entries)
    assert not any(ip in text for ip in raw_ips if ip.count(".") == 3)
    assert verify_chain(audited).ok


def _sql(store: Store, q: str, *args: object) -> None:
    store.catalog.db.execute(q, args)


@pytest.mark.parametrize(
    "tamper,message",
    [
        (lambda s: _sql(s, "UPDATE audit SET counts = '{}' WHERE id = 2"), "entry 2 was changed"),
        (lambda s: _sql(s, "DELETE FROM audit WHERE id = 3"), "entry 3 is missing"),
        (lambda s: _sql(s, "DELETE FROM audit WHERE id = (SELECT MAX(id) FROM audit)"), "newest entries were removed"),
        (
            lambda s: (
                _sql(s, "UPDATE audit SET id = 100 WHERE id = 2"),
                _sql(s, "UPDATE audit SET id = 2 WHERE id = 3"),
                _sql(s, "UPDATE audit SET id = 3 WHERE id = 100"),
            ),
            "entry 2 does not follow",
        ),
    ],
    ids=["changed", "removed", "truncated", "reordered"],
)
def test_tampering_is_detected(audited: Store, tamper, message: str) -> None:
    tamper(audited)
    res = verify_chain(audited)
    assert not res.ok and message in res.problem


def test_cli(audited: Store) -> None:
    runner = CliRunner()
    r = runner.invoke(cli, ["--store", str(audited.root), "audit", "verify"])
    assert r.exit_code == 0 and "7 entries, chain intact" in r.stderr
    r = runner.invoke(cli, ["--store", str(audited.root), "audit", "list", "--format", "json"])
    assert len(json.loads(r.stdout)) == 7
    _sql(audited, "UPDATE audit SET action = 'nothing' WHERE id = 1")
    r = runner.invoke(cli, ["--store", str(audited.root), "audit", "verify"])
    assert r.exit_code == 1 and "chain broken: entry 1 was changed" in r.stderr
