"""Incident holds: retention spares what they match, until release or expiry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from logtool.cli import cli
from logtool.config import Policy
from logtool.errors import ConfigError
from logtool.governance import holds
from logtool.governance.verify import verify
from logtool.inputs import make_inputs
from logtool.lifecycle.ingest import ingest
from logtool.lifecycle.retention import retain
from logtool.store import Store

from .conftest import NOW, write_days


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


FAR = t("2028-01-01T00:00:00")


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    logs = write_days(tmp_path / "logs", n_days=3, per_day=300)  # 2026-11-10 … 12
    ingest(store, make_inputs([str(p) for p in logs]), Policy(), NOW)
    return store


def raw_rows(store: Store) -> pl.DataFrame:
    return store.read("raw")


def test_a_hold_keeps_rows_through_several_runs_until_released(loaded: Store) -> None:
    full_day = loaded.read("raw", "2026-11-10", "2026-11-10")
    morning = full_day.filter(pl.col("ts") < t("2026-11-10T12:00:00"))
    holds.create(loaded, "INC-7", "credential stuffing", t("2026-11-10T00:00:00"), NOW,
                 end=t("2026-11-10T12:00:00"), expires=FAR)  # fmt: skip
    res = retain(loaded, Policy(), t("2026-11-20T00:00:00"))
    assert res.held_rows == morning.height > 0
    kept = raw_rows(loaded)
    assert sorted(kept["line_no"].to_list()) == sorted(morning["line_no"].to_list())
    anon_10 = loaded.read("anonymised", "2026-11-10", "2026-11-10")
    assert anon_10.height == full_day.height - morning.height
    # the salt of a day with held raw rows survives; its visitor count was written once, whole
    assert "2026-11-10" in loaded.catalog.salts.days()
    visitors = loaded.read("aggregates", "2026-11-10", "2026-11-10").filter(dimension="visitors")
    assert visitors["requests"].to_list() == [full_day["visitor_key"].n_unique()]
    # idempotent, and still held far past both windows
    paths = sorted(p.path for p in loaded.parts("raw"))
    retain(loaded, Policy(), t("2026-11-20T00:00:00"))
    assert sorted(p.path for p in loaded.parts("raw")) == paths
    retain(loaded, Policy(), t("2027-06-01T00:00:00"))
    assert raw_rows(loaded).height == morning.height
    assert loaded.parts("anonymised") == []
    assert verify(loaded, Policy(), t("2027-06-01T00:00:00")) == []  # held rows are not "overdue"
    # released: the next run processes them (past both windows: deleted) and the salt goes
    holds.release(loaded, "INC-7", t("2027-06-01T00:00:00"))
    retain(loaded, Policy(), t("2027-06-01T00:00:00"))
    assert raw_rows(loaded).height == 0
    assert loaded.catalog.salts.days() == []
    assert len(loaded.read("aggregates", "2026-11-10", "2026-11-10").filter(dimension="visitors")) == 1


def test_an_expired_hold_no_longer_protects(loaded: Store) -> None:
    created = t("2026-11-12T00:00:00")
    holds.create(loaded, "INC-8", "probe", t("2026-11-10T00:00:00"), created, expires=t("2026-11-15T00:00:00"))
    res = retain(loaded, Policy(), t("2026-11-20T00:00:00"))
    assert res.held_rows == 0 and raw_rows(loaded).height == 0
    assert holds.get(loaded, "INC-8").state(t("2026-11-20T00:00:00")) == "expired"


def test_network_holds_match_only_their_clients_also_rows_ingested_later(loaded: Store, tmp_path: Path) -> None:
    raw = raw_rows(loaded)
    target = raw.filter(pl.col("client_ip").str.contains(r"^\d+\.\d+\.\d+\.\d+$"))["client_ip"][0]
    holds.create(loaded, "INC-9", "brute force", t("2026-11-01T00:00:00"), NOW, networks=[f"{target}/32"], expires=FAR)
    late = tmp_path / "late.log"
    late.write_text(f'{target} - - [12/Nov/2026:23:00:00 +0000] "POST /wp-login.php HTTP/1.1" 401 5 "-" "x"\n')
    ingest(loaded, make_inputs([str(late)]), Policy(), NOW)  # after the hold was created
    retain(loaded, Policy(), t("2026-11-20T00:00:00"))
    kept = raw_rows(loaded)
    assert set(kept["client_ip"].to_list()) == {target}
    assert kept.height == raw.filter(pl.col("client_ip") == target).height + 1
    # past the anonymised window, anonymised rows of that client's network are kept too
    retain(loaded, Policy(), t("2027-06-01T00:00:00"))
    nets = set(loaded.read("anonymised")["client_net"].to_list())
    assert nets <= {".".join(target.split(".")[:3]) + ".0/24"}


def test_validation_and_audit(loaded: Store) -> None:
    holds.create(loaded, "INC-1", "x", t("2026-11-10T00:00:00"), NOW, expires=FAR)
    with pytest.raises(ConfigError, match="exists already"):
        holds.create(loaded, "INC-1", "x", t("2026-11-10T00:00:00"), NOW)
    with pytest.raises(ConfigError, match="not an address or network"):
        holds.create(loaded, "INC-2", "x", t("2026-11-10T00:00:00"), NOW, networks=["nope"])
    with pytest.raises(ConfigError, match="needs a --reason"):
        holds.create(loaded, "INC-3", " ", t("2026-11-10T00:00:00"), NOW)
    with pytest.raises(ConfigError, match="--to must be after --from"):
        holds.create(loaded, "INC-4", "x", t("2026-11-10T00:00:00"), NOW, end=t("2026-11-09T00:00:00"))
    holds.extend(loaded, "INC-1", t("2029-01-01T00:00:00"), NOW)
    holds.release(loaded, "INC-1", NOW)
    actions = [e["action"] for e in loaded.catalog.audit.entries()]
    assert actions[-3:] == ["hold-create", "hold-extend", "hold-release"]


def test_cli(loaded: Store) -> None:
    run = CliRunner()
    base = ["--store", str(loaded.root)]
    r = run.invoke(cli, [*base, "hold", "create", "INC-5", "--reason", "scan", "--from", "2026-11-10T00:00:00Z",
                         "--network", "203.0.113.0/24", "--now", "2026-11-24T03:00:00Z", "--expires", "2027-01-01"])  # fmt: skip
    assert r.exit_code == 0 and "INC-5" in r.stdout and "active" in r.stdout
    r = run.invoke(cli, [*base, "hold", "list", "--now", "2027-02-01"])
    assert "expired" in r.stdout
    r = run.invoke(cli, [*base, "hold", "show", "INC-404"])
    assert r.exit_code == 2 and "no hold 'INC-404'" in r.stderr
    r = run.invoke(cli, [*base, "status", "--format", "json", "--now", "2026-11-25"])
    assert '"id": "INC-5"' in r.stdout
    r = run.invoke(cli, [*base, "status", "--now", "2026-12-28"])
    assert "hold INC-5: active, expires 2027-01-01 (in 4 days)  ← lapses soon" in r.stdout


def test_row_level_output_only_under_a_hold_and_evidence_bundles(loaded: Store, tmp_path: Path) -> None:
    from logtool.governance.bundle import export_bundle, verify_bundle

    holds.create(loaded, "INC-6", "scan", t("2026-11-11T00:00:00"), NOW, end=t("2026-11-12T00:00:00"), expires=FAR)
    expected = loaded.read("raw", "2026-11-11", "2026-11-11").height
    run = CliRunner()
    base = ["--store", str(loaded.root)]
    r = run.invoke(cli, [*base, "report", "--hold", "INC-6", "--format", "json"])
    doc = __import__("json").loads(r.stdout)
    assert doc["rows"] == expected and doc["detail"][0]["client_ip"]  # full addresses, under the hold
    r = run.invoke(cli, [*base, "export", "--hold", "INC-6"])
    assert r.stdout.count("\n") == expected + 1 and "exported" in r.stderr
    r = run.invoke(cli, [*base, "export"])
    assert r.exit_code == 2 and "--stage raw|anonymised" in r.stderr
    bundle = tmp_path / "evidence"
    manifest = export_bundle(loaded, "INC-6", bundle, NOW)
    assert manifest["rows"] == expected and set(manifest["sha256"]) == {"rows.parquet", "rows.csv", "hold.json"}
    assert verify_bundle(bundle) == []
    data = bytearray((bundle / "rows.csv").read_bytes())
    data[len(data) // 2] ^= 0x01  # one changed byte
    (bundle / "rows.csv").write_bytes(bytes(data))
    assert verify_bundle(bundle) == ["rows.csv: content changed (SHA-256 differs from the manifest)"]
    r = run.invoke(cli, ["hold", "verify-bundle", str(bundle)])
    assert r.exit_code == 1
    actions = [e["action"] for e in loaded.catalog.audit.entries()]
    assert {"report-hold", "export-hold", "hold-export"} <= set(actions)


def test_expiry_is_audited_once(loaded: Store) -> None:
    holds.create(
        loaded, "INC-E", "x", t("2026-11-10T00:00:00"), t("2026-11-12T00:00:00"), expires=t("2026-11-15T00:00:00")
    )
    retain(loaded, Policy(), t("2026-11-20T00:00:00"))
    retain(loaded, Policy(), t("2026-11-21T00:00:00"))
    assert [e["action"] for e in loaded.catalog.audit.entries()].count("hold-expired") == 1
