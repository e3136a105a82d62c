"""Data-subject requests: find, export, erase (crash-safe, holds respected), restrict."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.governance import holds, subjects
from logtool.governance.export import ExportFormat, export
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.store import Store

from .conftest import NOW

SUBJECT = "203.0.113.77"
LINES = [
    f'{SUBJECT} - - [10/Nov/2026:10:00:00 +0000] "GET /a HTTP/1.1" 200 1 "-" "UA" "-"',
    f'[::ffff:{SUBJECT}]:4431 - - [10/Nov/2026:11:00:00 +0000] "GET /b HTTP/1.1" 200 1 "-" "UA" "-"',
    f'10.0.0.5 - - [11/Nov/2026:10:00:00 +0000] "GET /c HTTP/1.1" 200 1 "-" "UA" "{SUBJECT}, 10.0.0.1"',
    '198.51.100.1 - - [10/Nov/2026:10:30:00 +0000] "GET /d HTTP/1.1" 200 1 "-" "UA" "-"',
    '198.51.100.2 - - [11/Nov/2026:10:30:00 +0000] "GET /e HTTP/1.1" 200 1 "-" "UA" "-"',
]


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    log = tmp_path / "a.log"
    log.write_text("\n".join(LINES) + "\n")
    ingest(store, make_inputs([str(log)]), Policy(), NOW)
    return store


def test_find_links_every_spelling_and_xff(loaded: Store) -> None:
    res = subjects.find(loaded, SUBJECT, NOW)
    assert res["raw_rows"] == 3 and res["days"] == ["2026-11-10", "2026-11-11"]
    assert res["subject"].startswith("subj-") and SUBJECT not in json.dumps(res)
    assert subjects.find(loaded, "::ffff:203.0.113.77", NOW)["raw_rows"] == 3


def test_export_json_and_csv(loaded: Store) -> None:
    out = io.BytesIO()
    assert subjects.export(loaded, SUBJECT, out, "json", NOW) == 3
    doc = json.loads(out.getvalue())
    assert {r["path"] for r in doc["rows"]} == {"/a", "/b", "/c"}
    out = io.BytesIO()
    subjects.export(loaded, SUBJECT, out, "csv", NOW)
    assert out.getvalue().decode().count("\n") == 4


def test_erase_removes_linked_rows_and_keeps_held_ones(loaded: Store) -> None:
    holds.create(loaded, "INC-1", "evidence", t("2026-11-11T00:00:00"), NOW, expires=t("2028-01-01T00:00:00"))
    dry = subjects.erase(loaded, SUBJECT, NOW, dry_run=True)
    assert (dry.erased_rows, loaded.read("raw").height) == (2, 5)
    res = subjects.erase(loaded, SUBJECT, NOW)
    assert res.erased_rows == 2 and res.kept_by_holds == {"INC-1": 1}
    assert "Art. 17(3)(e)" in (res.legal_ground or "")
    assert sorted(loaded.read("raw")["path"].to_list()) == ["/c", "/d", "/e"]
    audit = [e for e in loaded.catalog.audit.entries() if e["action"].startswith("subject")]
    assert SUBJECT not in json.dumps(audit) and audit[-1]["action"] == "subject-erase"


def test_erase_is_crash_safe(loaded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import logtool.store as store_mod

    def boom(point: str) -> None:
        if point == "published":
            raise OSError("power cut")

    monkeypatch.setattr(store_mod, "fault_hook", boom)
    with pytest.raises(OSError):
        subjects.erase(loaded, SUBJECT, NOW)
    monkeypatch.undo()
    assert loaded.read("raw").height == 5  # the old state, whole
    subjects.erase(loaded, SUBJECT, NOW)
    assert loaded.read("raw").height == 2
    parts = loaded.parts("raw")
    assert len(list((loaded.root / "raw").rglob("*.parquet"))) == len(parts)  # no leftovers after a writer ran


def test_restrict_hides_rows_from_exports(loaded: Store) -> None:
    subjects.restrict(loaded, SUBJECT, NOW)
    out = io.BytesIO()
    export(loaded, "raw", out, NOW, ExportFormat.csv)
    df = pl.read_csv(io.BytesIO(out.getvalue()))
    assert set(df["path"].to_list()) == {"/c", "/d", "/e"}  # /c is linked only through XFF
    assert subjects.find(loaded, SUBJECT, NOW)["restricted"] is True
    subjects.restrict(loaded, SUBJECT, NOW, on=False)
    out = io.BytesIO()
    export(loaded, "raw", out, NOW, ExportFormat.csv)
    assert pl.read_csv(io.BytesIO(out.getvalue())).height == 5


def test_cli(loaded: Store, tmp_path: Path) -> None:
    run = CliRunner()
    base = ["--store", str(loaded.root), "subject"]
    r = run.invoke(cli, [*base, "find", "--ip", SUBJECT])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["raw_rows"] == 3
    r = run.invoke(cli, [*base, "export", "--ip", SUBJECT, "-o", str(tmp_path / "me.json")])
    assert r.exit_code == 0 and len(json.loads((tmp_path / "me.json").read_text())["rows"]) == 3
    r = run.invoke(cli, [*base, "erase", "--ip", "not-an-ip"])
    assert r.exit_code == 2 and "not an IP address" in r.stderr
    r = run.invoke(cli, [*base, "erase", "--ip", SUBJECT])
    assert r.exit_code == 0 and "erased 3 rows of subj-" in r.stderr
