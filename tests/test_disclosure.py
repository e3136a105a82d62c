"""One disclosure path: every library function that hands out row-level personal data checks
its scope and leaves an audit entry — called directly, without the CLI."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logtool.config import Policy
from logtool.errors import ConfigError
from logtool.governance import holds, subjects
from logtool.governance.bundle import export_bundle
from logtool.governance.disclosure import disclose
from logtool.governance.export import ExportFormat, export, export_hold
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.report import hold_detail
from logtool.review import blocklist, review
from logtool.store import Store

from .conftest import NOW, write_days

START = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture
def held(store: Store, tmp_path: Path) -> Store:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=300)
    ingest(store, make_inputs([str(logs[0])]), Policy(), NOW)
    holds.create(store, "INC-1", "brute force on /wp-login.php", START, NOW, end=START + timedelta(days=1))
    return store


def entries(store: Store) -> list[dict]:
    return store.catalog.audit.entries()


ENTRY_POINTS: dict[str, Callable[[Store, Path], object]] = {
    "report-hold": lambda s, tmp: hold_detail(s, "INC-1", NOW),
    "export-hold": lambda s, tmp: export_hold(s, "INC-1", io.BytesIO(), NOW, ExportFormat.csv),
    "hold-export": lambda s, tmp: export_bundle(s, "INC-1", tmp / "bundle", NOW),
    "review-hold": lambda s, tmp: review(s, Policy(), NOW, hold_id="INC-1"),
    "blocklist": lambda s, tmp: blocklist(s, Policy(), "INC-1", NOW),
    "export": lambda s, tmp: export(s, "raw", io.BytesIO(), NOW, ExportFormat.jsonl),
    "subject-export": lambda s, tmp: subjects.export(s, "203.0.113.7", io.BytesIO(), "json", NOW),
}


@pytest.mark.parametrize("action", list(ENTRY_POINTS))
def test_every_entry_point_writes_its_audit_entry(held: Store, tmp_path: Path, action: str) -> None:
    before = len(entries(held))
    ENTRY_POINTS[action](held, tmp_path)
    new = entries(held)[before:]
    assert [e["action"] for e in new] == [action]
    counts = json.loads(new[0]["counts"])
    assert counts["rows"] >= 0 and "incomplete" not in counts
    if action not in ("export", "subject-export"):
        assert json.loads(new[0]["params"])["hold"] == "INC-1"


@pytest.mark.parametrize("action", [a for a in ENTRY_POINTS if a not in ("export", "subject-export")])
def test_a_released_hold_shows_nothing(held: Store, tmp_path: Path, action: str) -> None:
    holds.release(held, "INC-1", NOW)
    before = len(entries(held))
    with pytest.raises(ConfigError, match="hold 'INC-1' is released"):
        ENTRY_POINTS[action](held, tmp_path)
    assert len(entries(held)) == before


def test_an_unknown_hold_or_a_missing_scope_is_refused(held: Store) -> None:
    with pytest.raises(ConfigError, match="no hold 'INC-9'"), disclose(held, "x", NOW, hold_id="INC-9"):
        pass
    with pytest.raises(ConfigError, match="needs one scope"), disclose(held, "x", NOW):
        pass
    with (
        pytest.raises(ConfigError, match="cannot export stage 'aggregates'"),
        disclose(held, "x", NOW, stage="aggregates"),
    ):
        pass


def test_an_output_that_fails_half_way_is_still_audited(held: Store) -> None:
    class Full(io.BytesIO):
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        export(held, "raw", Full(), NOW, ExportFormat.csv)
    last = entries(held)[-1]
    assert last["action"] == "export" and json.loads(last["counts"])["incomplete"] == "OSError"


def test_the_audit_is_written_under_the_writer_lock(held: Store) -> None:
    """While another writer holds the lock, no row-level output starts (nothing leaves unaudited)."""
    from logtool.errors import StoreBusyError

    other = Store(held.root)
    with other.writing(), pytest.raises(StoreBusyError):
        hold_detail(held, "INC-1", NOW)
    other.close()
