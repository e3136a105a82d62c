"""The hall, as a new user walks through it: errors name the flag typed, one error form, read-only
commands create nothing, formats come from enums, numbers and times read well."""

from __future__ import annotations

import enum
import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from logtool import __version__
from logtool.cli import cli

from .conftest import write_days


@pytest.mark.parametrize(
    "args,message",
    [
        (["hold", "create", "X", "--reason", "r", "--from", "18.05.2015"], "--from: not an ISO 8601 time: '18.05.2015'"),
        (["hold", "create", "X", "--reason", "r", "--from", "2026-11-10", "--expires", "soon"],
         "--expires: not an ISO 8601 time: 'soon'"),
        (["review", "--since", "5x"], "--since: not a duration or an ISO 8601 time: '5x'"),
        (["audit", "list", "--since", "yesterday"], "--since: not a duration or an ISO 8601 time: 'yesterday'"),
        (["report", "--from", "11/01/2026"], "--from: not a date: '11/01/2026'"),
        (["report", "--month", "2026-13"], "--month: not a month: '2026-13'"),
        (["report", "--from", "2026-11-20", "--to", "2026-11-01"], "--from 2026-11-20 is after --to 2026-11-01"),
        (["retain", "--now", "now-ish"], "--now: not an ISO 8601 time: 'now-ish'"),
    ],
)  # fmt: skip
def test_errors_name_the_flag_that_was_typed(run, args: list[str], message: str) -> None:
    r = run(*args)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"logtool: error: {message}") and r.stderr.count("\n") == 1


def test_usage_errors_share_the_one_line_form(run) -> None:
    r = run("ingest", "--bogus", "x.log")
    assert r.exit_code == 2
    assert r.stderr == "logtool: error: No such option '--bogus' (see 'logtool ingest --help')\n"
    r = run("export", "--stage", "everything")
    assert r.exit_code == 2 and r.stderr.startswith("logtool: error: Invalid value for '--stage'")
    assert r.stderr.count("\n") == 1


@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(flag: str) -> None:
    r = CliRunner().invoke(cli, [flag])
    assert r.exit_code == 0 and r.stdout == f"logtool, version {__version__}\n"


@pytest.mark.parametrize(
    "args",
    [["status"], ["verify"], ["report"], ["review"], ["audit", "list"], ["hold", "list"],
     ["subject", "find", "--ip", "203.0.113.7"]],
)  # fmt: skip
def test_read_only_commands_create_nothing(tmp_path: Path, args: list[str]) -> None:
    folder = tmp_path / "unrelated"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    r = CliRunner().invoke(cli, ["--store", str(folder), *args])
    assert r.exit_code == 4 and "has no catalog.sqlite" in r.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "missing"), *args])
    assert r.exit_code == 4 and "no store at" in r.stderr and not (tmp_path / "missing").exists()


def test_anonymize_needs_no_store(tmp_path: Path) -> None:
    line = b'dsl-1.pool.example.net - - [10/Nov/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n'
    r = CliRunner().invoke(cli, ["--store", str(tmp_path / "none"), "anonymize", "--format", "combined"], input=line)
    assert r.exit_code == 0 and r.stdout.startswith("example.net - - [10/Nov/2026")
    assert not (tmp_path / "none").exists()


def test_nightly_reviews_what_it_ingested_before_retention_deletes_it(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=2000)  # 2026-11-10, with attacks
    r = run("nightly", str(logs[0]), "--now", "2027-06-01T03:00:00Z")  # long past both windows
    assert r.exit_code == 0, r.stderr
    assert "delete:    1 day, " in r.stderr
    head = r.stdout.splitlines()[0]
    assert head.startswith("Security review 2026-11-10: ") and " 0 findings" not in head
    st = json.loads(run("status", "--format", "json", "--now", "2027-06-01T03:00:00Z").stdout)
    assert st["stages"]["raw"]["rows"] == 0 and st["stages"]["anonymised"]["rows"] == 0


@pytest.mark.parametrize(
    "toml,message",
    [
        ('ip_preset = "strict"\nipv4_prefix = 24\n', "ip_preset and ipv4_prefix both set the prefixes; keep one"),
        (
            "anonymised_days = 30\nanonymized_days = 40\n",
            "anonymised_days and anonymized_days both set anonymised_days; keep one",
        ),
    ],
)
def test_a_conflict_in_one_source_names_both_keys(run, tmp_path: Path, toml: str, message: str) -> None:
    cfg = tmp_path / "policy.toml"
    cfg.write_text(toml)
    r = run("config", "show", env={"LOGTOOL_CONFIG": str(cfg)})
    assert r.exit_code == 2 and r.stderr == f"logtool: error: {cfg}: {message}\n"
    r = run("config", "show", "--ip-preset", "strict", "--ipv4-prefix", "24")
    assert r.exit_code == 2 and "--ip-preset and --ipv4-prefix both set the prefixes" in r.stderr


def test_a_preset_in_a_higher_source_overrides_prefixes_below(run, tmp_path: Path) -> None:
    cfg = tmp_path / "logtool.toml"
    cfg.write_text("ipv4_prefix = 20\n")
    data = json.loads(run("config", "show", "--format", "json", "--ip-preset", "strict",
                          env={"LOGTOOL_CONFIG": str(cfg)}).stdout)  # fmt: skip
    assert data["policy"]["ipv4_prefix"] == 16 and data["origins"]["ipv4_prefix"] == "flag"


def test_american_spelling_is_accepted(run, tmp_path: Path) -> None:
    cfg = tmp_path / "logtool.toml"
    cfg.write_text("anonymized_days = 40\n")
    data = json.loads(run("config", "show", "--format", "json", env={"LOGTOOL_CONFIG": str(cfg)}).stdout)
    assert data["policy"]["anonymised_days"] == 40
    data = json.loads(run("config", "show", "--format", "json", "--anonymized-days", "33").stdout)
    assert data["policy"]["anonymised_days"] == 33
    logs = write_days(tmp_path / "logs", n_days=1, per_day=50)
    run("ingest", str(logs[0]), "--now", "2026-11-11T00:00:00Z")
    run("retain", "--now", "2026-11-20T00:00:00Z")
    r = run("export", "--stage", "anonymized", "--format", "jsonl")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 50


def test_quiet_silences_summaries_not_data_or_errors(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=20)
    r = CliRunner().invoke(cli, ["--store", str(run.store), "-q", "ingest", str(logs[0])])
    assert r.exit_code == 0 and r.stderr == ""
    r = CliRunner().invoke(cli, ["--store", str(run.store), "-q", "ingest", "missing.log"])
    assert r.exit_code == 3 and r.stderr.startswith("logtool: error:")


def test_numbers_and_words(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=1)
    r = run("ingest", str(logs[0]), "--now", "2026-11-11T00:00:00Z")
    assert "access.log-20261110: 1 line as combined" in r.stderr
    r = run("retain", "--now", "2026-11-20T00:00:00Z")
    assert "anonymise: 1 day, 1 row (2026-11-10 … 2026-11-10)" in r.stderr
    assert "delete:    0 days, 0 rows" in r.stderr


def test_one_timestamp_spelling_in_every_row_export(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=5)
    run("ingest", str(logs[0]), "--now", "2026-11-11T00:00:00Z")
    iso = r"2026-11-10T\d\d:\d\d:\d\d\.\d{6}\+00:00"
    csv_rows = run("export", "--stage", "raw").stdout.splitlines()[1:]
    jsonl = [json.loads(x)["ts"] for x in run("export", "--stage", "raw", "--format", "jsonl").stdout.splitlines()]
    out = tmp_path / "subject.json"
    ip = csv_rows[0].split(",")[2]
    run("subject", "export", "--ip", ip, "-o", str(out))
    subject = [r["ts"] for r in json.loads(out.read_text())["rows"]]
    import re

    assert all(re.match(iso, r.split(",")[0]) for r in csv_rows)
    assert all(re.fullmatch(iso, t) for t in jsonl + subject) and subject


def test_an_output_file_is_not_created_when_the_command_fails(run, tmp_path: Path) -> None:
    logs = write_days(tmp_path / "logs", n_days=1, per_day=5)
    run("ingest", str(logs[0]))
    out = tmp_path / "out" / "hold.txt"
    r = run("report", "--hold", "NOPE", "-o", str(out))
    assert r.exit_code == 2 and "no hold 'NOPE'" in r.stderr
    assert not out.exists()
    r = run("export", "--hold", "NOPE", "-o", str(out))
    assert r.exit_code == 2 and not out.exists()


def _format_options() -> list[tuple[str, click.Option]]:
    out = []

    def walk(group: click.Group, prefix: str) -> None:
        for name, cmd in group.commands.items():
            if isinstance(cmd, click.Group):
                walk(cmd, prefix + name + " ")
            for p in cmd.params:
                if isinstance(p, click.Option) and "--format" in p.opts:
                    out.append((prefix + name, p))

    walk(cli, "")
    return out


@pytest.mark.parametrize("name,option", _format_options(), ids=lambda x: x if isinstance(x, str) else "")
def test_every_format_option_offers_exactly_its_enum(name: str, option: click.Option) -> None:
    if name in ("ingest", "nightly", "anonymize"):  # --format there names a log or conversation format
        from logtool.parsers import CONV_REGISTRY, REGISTRY

        assert list(option.type.choices) == [*REGISTRY, *CONV_REGISTRY]  # type: ignore[attr-defined]
        return
    members = option.callback(None, option, option.default)  # type: ignore[misc]
    enum_type = type(members)
    assert issubclass(enum_type, enum.Enum)
    assert list(option.type.choices) == [m.value for m in enum_type]  # type: ignore[attr-defined]


def test_every_report_and_finding_format_renders() -> None:
    from logtool.render import ReportFormat, render_report
    from logtool.render.findings import FindingFormat, render
    from logtool.report import Report

    for fmt in ReportFormat:
        assert isinstance(render_report(Report(None, None), fmt), str)
    for ffmt in FindingFormat:
        assert isinstance(render([], ffmt), str)


CONTRIB = Path(__file__).parents[1] / "contrib"


def test_contrib_files_agree_on_store_config_and_user() -> None:
    texts = {p.relative_to(CONTRIB).as_posix(): p.read_text() for p in CONTRIB.rglob("*") if p.is_file()}
    for name in ("systemd/logtool-nightly.service", "nginx/logtool-anonymize.service", "logrotate/nginx"):
        assert "LOGTOOL_STORE=/var/lib/logtool" in texts[name] and "LOGTOOL_CONFIG=/etc/logtool.toml" in texts[name]
    unit = texts["systemd/logtool-nightly.service"]
    for line in ("User=logtool", "SupplementaryGroups=adm", "StateDirectory=logtool", "After=logrotate.service",
                 "WantedBy=logrotate.service", "NoNewPrivileges=yes", "ProtectSystem=strict"):  # fmt: skip
        assert line in unit.splitlines(), line
    anon = texts["nginx/logtool-anonymize.service"]
    assert "User=www-data" in anon and "NoNewPrivileges=yes" in anon and "RuntimeDirectory=logtool-anonymize" in anon
    hook = texts["logrotate/nginx"]
    assert hook.splitlines()[0] == "# /etc/logrotate.d/nginx — Debian's nginx entry with a logtool hook added."
    assert "runuser -u logtool" in hook
    logtool_line = next(line for line in hook.splitlines() if "logtool --quiet nightly" in line)
    assert "|| true" not in logtool_line and "|| true" not in hook.split("logtool --quiet nightly")[1].splitlines()[0]


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="logrotate is not installed (.ci/run installs it)")
def test_logrotate_accepts_the_hook(tmp_path: Path) -> None:
    conf = tmp_path / "nginx"
    conf.write_text((CONTRIB / "logrotate" / "nginx").read_text())
    conf.chmod(0o644)
    r = subprocess.run(["logrotate", "-d", "-s", str(tmp_path / "state"), str(conf)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "error" not in r.stderr.lower()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("unit", ["systemd/logtool-nightly.service", "nginx/logtool-anonymize.service"])
def test_systemd_accepts_the_units(tmp_path: Path, unit: str) -> None:
    exe = Path(sys.executable).parent / "logtool"
    text = (CONTRIB / unit).read_text().replace("/usr/local/bin/logtool", str(exe))
    path = tmp_path / Path(unit).name
    path.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert Path(unit).name not in r.stderr, r.stderr  # no warning about the unit itself
