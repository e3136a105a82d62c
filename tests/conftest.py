"""Shared fixtures: an isolated store, a fixed clock, generated logs, a tiny GeoIP database."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from logtool import generate
from logtool.config import Policy
from logtool.store import Store

# Property tests: random exploration locally; derandomised in CI so that a landing never hinges
# on a lucky draw (a failure found locally is added as a golden case or an @example instead);
# HYPOTHESIS_PROFILE=thorough for a long hunt before a release.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("thorough", deadline=None)
#: Tests multiply their example counts by this (20 under HYPOTHESIS_PROFILE=thorough).
EXAMPLES = 20 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 1
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

#: The clock every test uses: tests never read the wall clock.
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
DAY0 = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the user's store, config or LOGTOOL_* environment, nor the objects an
    earlier test's command froze out of the cyclic collector (``cli.common.settle_heap``)."""
    for key in list(os.environ):
        if key.startswith("LOGTOOL_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    yield
    gc.unfreeze()


@pytest.fixture
def run(tmp_path: Path):
    """The CLI, isolated: ``run(*args)`` invokes logtool on a store in ``tmp_path``."""
    from click.testing import CliRunner

    from logtool.cli import cli

    runner = CliRunner()
    store = tmp_path / "store"

    def go(*args: str, env: dict[str, str] | None = None, input: bytes | None = None):
        return runner.invoke(cli, ["--store", str(store), *args], env=env or {}, input=input, catch_exceptions=False)

    go.store = store  # type: ignore[attr-defined]
    return go


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "store")
    yield s
    s.close()


@pytest.fixture
def policy() -> Policy:
    return Policy()


def write_days(folder: Path, n_days: int = 3, per_day: int = 400, seed: int = 5, first: datetime = DAY0) -> list[Path]:
    """One generated log file per day, named like logrotate leaves them."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for day, lines in generate.days(first, n_days, per_day, seed=seed):
        p = folder / f"access.log-{day:%Y%m%d}"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        out.append(p)
    return out


@pytest.fixture
def day_logs(tmp_path: Path) -> list[Path]:
    return write_days(tmp_path / "logs")


@pytest.fixture(scope="session")
def report_page(tmp_path_factory: pytest.TempPathFactory):
    """The demo report plus a hostile client, rendered to HTML once for every browser test
    (:mod:`tests.report_page`)."""
    from .report_page import build_report_page

    return build_report_page(tmp_path_factory.mktemp("report-page"))


@pytest.fixture
def tiny_mmdb(tmp_path: Path) -> Path:
    """A MaxMind-format database with three networks, built here (no download)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    w = MMDBWriter(ip_version=6, database_type="logtool-test", ipv4_compatible=True)
    w.insert_network(IPSet(["203.0.113.0/24"]), {"country": {"iso_code": "DE"}})
    w.insert_network(IPSet(["198.51.100.0/24"]), {"country_code": "FR"})
    w.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "NL"}})
    path = tmp_path / "tiny.mmdb"
    w.to_db_file(str(path))
    return path
