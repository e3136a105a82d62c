"""The ``logtool`` command line: thin wrappers over library functions.

Data goes to stdout, progress and summaries to stderr. Library errors are mapped to exit
codes in one place (:class:`LogtoolGroup`).
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from logtool import __version__
from logtool.config import Policy, PolicySource, default_config_file, describe, load_policy, preset_values
from logtool.errors import EXIT_FINDINGS, ConfigError, LogtoolError

DEFAULT_REPORTS = Path("reports")


def default_store() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("logtool"))


def err(msg: str) -> None:
    click.echo(msg, err=True)


class LogtoolGroup(click.Group):
    """Turns every :class:`LogtoolError` into ``logtool: error: …`` and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LogtoolError as e:
            err(f"logtool: error: {e}")
            ctx.exit(e.exit_code)
        except KeyboardInterrupt:
            err("logtool: interrupted; nothing partial was committed")
            ctx.exit(130)


class Ctx:
    """Options shared by all commands."""

    def __init__(self, store: Path | None, config: Path | None) -> None:
        self.store_path = store or default_store()
        self.config = config

    def policy(self, **overrides: Any) -> PolicySource:
        preset = overrides.pop("ip_preset", None)
        if preset:
            overrides = {
                **preset_values(preset, "--ip-preset"),
                **{k: v for k, v in overrides.items() if v is not None},
            }
        return load_policy(self.config, overrides=overrides)

    def open_store(self, create: bool = True):  # type: ignore[no-untyped-def]
        from logtool.store import Store

        return Store(self.store_path, create=create)


def parse_now(value: str | None) -> datetime:
    """``--now``: ISO 8601; naive times are UTC. Default: the current time."""
    if value is None:
        return datetime.now(UTC)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--now: not an ISO 8601 time: {value!r} (example: 2026-11-24T03:00:00Z)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_day(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        raise ConfigError(f"{flag}: not a date: {value!r} (example: 2026-11-01)") from None


def policy_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Flags that override the policy file and environment (same spelling on every command)."""
    opts = [
        click.option("--raw-days", type=int, help="Days of full detail (default 7)."),
        click.option("--anonymised-days", type=int, help="Days anonymised rows are kept (default 90)."),
        click.option("--ipv4-prefix", type=int, help="IPv4 prefix kept on anonymisation (default 24)."),
        click.option("--ipv6-prefix", type=int, help="IPv6 prefix kept on anonymisation (default 48)."),
        click.option(
            "--ip-preset",
            type=click.Choice(["default", "strict"]),
            help="Prefix preset: default (/24, /48) or strict (/16, /32).",
        ),
        click.option(
            "--geoip-db", type=click.Path(dir_okay=False), help="MaxMind-format country database (GeoLite2, DB-IP)."
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _policy_from(ctx: Ctx, kw: dict[str, Any]) -> Policy:
    keys = ("raw_days", "anonymised_days", "ipv4_prefix", "ipv6_prefix", "ip_preset", "geoip_db")
    return ctx.policy(**{k: kw.pop(k, None) for k in keys}).policy


def format_options(f: Callable[..., Any]) -> Callable[..., Any]:
    from logtool.parsers import REGISTRY

    opts = [
        click.option(
            "--format",
            "format_name",
            type=click.Choice(list(REGISTRY)),
            help="Force a format instead of auto-detection.",
        ),
        click.option("--log-format", help="Apache LogFormat string of your logs, e.g. '%h %l %u %t \"%r\" %>s %b'."),
        click.option("--nginx-format", help="nginx log_format string of your logs, e.g. '$remote_addr - …'."),
        click.option(
            "--json-map", help="JSON lines: FIELD=KEY pairs, e.g. 'ts=time,client_ip=remote_addr,request=req'."
        ),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _line_format(format_name: str | None, log_format: str | None, nginx_format: str | None,
                 json_map: str | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
    from logtool.parsers import custom_format, get_format

    if sum(x is not None for x in (format_name, log_format, nginx_format, json_map)) > 1:
        raise ConfigError("use only one of --format, --log-format, --nginx-format and --json-map")
    if format_name:
        return get_format(format_name)
    return custom_format(log_format, nginx_format, json_map)


@click.group(cls=LogtoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logtool")
@click.option(
    "--store",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="LOGTOOL_STORE",
    help="Store directory (env LOGTOOL_STORE; default: per-user data directory).",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="LOGTOOL_CONFIG",
    help="Policy file, TOML (env LOGTOOL_CONFIG; default: ./logtool.toml if present).",
)
@click.pass_context
def cli(ctx: click.Context, store: Path | None, config: Path | None) -> None:
    """Access logs kept the lawful way: parse, keep detail briefly, anonymise, aggregate, delete."""
    ctx.obj = Ctx(store, config or default_config_file())


# ingest -------------------------------------------------------------------------------------
def _progress_ingest(store, inputs, policy, now, fmt, geo):  # type: ignore[no-untyped-def]
    from logtool.ingest import ingest

    if not sys.stderr.isatty():
        return ingest(store, inputs, policy, now, fmt, geo)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("ingesting {task.completed:,.0f} lines"),
        TimeElapsedColumn(),
        transient=True,
        console=_stderr_console(),
    ) as bar:
        task = bar.add_task("ingest", total=None)
        return ingest(store, inputs, policy, now, fmt, geo, progress=lambda n: bar.advance(task, n))


def _stderr_console():  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=True)


def _print_ingest(results: list[Any]) -> None:
    for r in results:
        if r.status == "duplicate":
            err(f"{r.name}: already ingested (same content as {r.duplicate_of}); nothing to do")
        elif r.status == "empty":
            err(f"{r.name}: empty; nothing to do")
        else:
            line = f"{r.name}: {r.lines:,} lines as {r.format}, {r.parsed:,} stored, {r.rejected:,} quarantined"
            err(line)
            for reason, n in sorted(r.reasons.items(), key=lambda kv: -kv[1]):
                err(f"    {n:>8,}  {reason}")


@cli.command()
@click.argument("files", nargs=-1, required=True)
@format_options
@policy_options
@click.option("--no-geo", is_flag=True, help="Skip the country lookup.")
@click.option("--now", "now_s", help="Ingestion time to record (ISO 8601; default now).")
@click.pass_obj
def ingest(
    obj: Ctx, files: tuple[str, ...], format_name, log_format, nginx_format, json_map, no_geo, now_s, **kw
) -> None:  # type: ignore[no-untyped-def]
    """Parse log FILES (plain, .gz, .bz2, .xz, .zst, or - for stdin) into the store."""
    from logtool.geo import GeoDB
    from logtool.inputs import make_inputs

    policy = _policy_from(obj, kw)
    fmt = _line_format(format_name, log_format, nginx_format, json_map)
    geo = None if no_geo else GeoDB(policy.geoip_db or None)
    with obj.open_store() as store:
        results = _progress_ingest(store, make_inputs(list(files)), policy, parse_now(now_s), fmt, geo)
    _print_ingest(results)


# retain -------------------------------------------------------------------------------------
def _print_retain(res: Any) -> None:
    verb = "would" if res.dry_run else "did"
    err(f"retain as of {res.now:%Y-%m-%d %H:%M %Z} ({'dry run' if res.dry_run else 'applied'}):")
    err(
        f"  anonymise: {len(res.anonymised_days)} days, {res.anonymised_rows:,} rows"
        + (f" ({res.anonymised_days[0]} … {res.anonymised_days[-1]})" if res.anonymised_days else "")
    )
    err(
        f"  delete:    {len(res.deleted_days)} days, {res.deleted_rows:,} rows"
        + (f" ({res.deleted_days[0]} … {res.deleted_days[-1]})" if res.deleted_days else "")
    )
    if res.held_rows:
        err(f"  kept:      {res.held_rows:,} rows past their window under active holds")
    if not res.anonymised_days and not res.deleted_days:
        err(f"  nothing {verb} change: the store already follows the policy")


@cli.command()
@click.option("--now", "now_s", help="Evaluate the policy as of this time (ISO 8601; default now).")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@policy_options
@click.pass_obj
def retain(obj: Ctx, now_s: str | None, dry_run: bool, **kw: Any) -> None:
    """Anonymise raw days past raw_days; delete anonymised days past anonymised_days."""
    from logtool.retention import retain as do_retain

    policy = _policy_from(obj, kw)
    with obj.open_store() as store:
        res = do_retain(store, policy, parse_now(now_s), dry_run=dry_run)
    _print_retain(res)


# nightly ------------------------------------------------------------------------------------
@cli.command()
@click.argument("files", nargs=-1, required=True)
@format_options
@policy_options
@click.option("--now", "now_s", help="Run as of this time (ISO 8601; default now).")
@click.option(
    "--fail-on",
    type=click.Choice(["low", "medium", "high"]),
    help="Exit 1 (after all work is saved) if the review finds something at least this severe.",
)
@click.pass_obj
def nightly(obj: Ctx, files: tuple[str, ...], format_name, log_format, nginx_format, json_map, now_s, fail_on,  # type: ignore[no-untyped-def]
            **kw) -> None:  # fmt: skip
    """Ingest FILES, apply retention, print a short summary and the security review of the
    days ingested (for logrotate/systemd)."""
    from logtool.geo import GeoDB
    from logtool.ingest import ingest as do_ingest
    from logtool.inputs import make_inputs
    from logtool.retention import retain as do_retain

    policy = _policy_from(obj, kw)
    fmt = _line_format(format_name, log_format, nginx_format, json_map)
    now = parse_now(now_s)
    started = datetime.now(UTC).isoformat()
    with obj.open_store() as store, store.writing():
        results = do_ingest(store, make_inputs(list(files)), policy, now, fmt, GeoDB(policy.geoip_db or None))
        res = do_retain(store, policy, now)
        store.catalog.record_run(
            "nightly",
            started,
            datetime.now(UTC).isoformat(),
            {
                "files": [r.__dict__ for r in results],
                "anonymised_rows": res.anonymised_rows,
                "deleted_rows": res.deleted_rows,
            },
        )
    _print_ingest(results)
    _print_retain(res)
    days = sorted({d for r in results for d in r.days})
    if not days:
        return
    from logtool.review.findings import at_least
    from logtool.review.findings import review as do_review
    from logtool.review.render import summary

    with obj.open_store(create=False) as store:
        found = do_review(store, policy, date_from=days[0], date_to=days[-1])
    period = days[0] if len(days) == 1 else f"{days[0]} … {days[-1]}"
    click.echo(summary(found, period), nl=False)
    if found:
        click.echo(f"Details: logtool review --from {days[0]} --to {days[-1]}")
    if fail_on and at_least(found, fail_on):
        sys.exit(EXIT_FINDINGS)


# report and export --------------------------------------------------------------------------
def _open_out(path: Path | None, binary: bool):  # type: ignore[no-untyped-def]
    if path is None:
        return sys.stdout.buffer if binary else sys.stdout
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "wb" if binary else "w", encoding=None if binary else "utf-8")


@cli.command()
@click.option("--from", "date_from", help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Last day (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.option("--hold", "hold_id", help="Row-level detail (full addresses, requests) of the rows this hold matches.")
@click.pass_obj
def report(obj: Ctx, date_from: str | None, date_to: str | None, fmt: str, output: Path | None,
           hold_id: str | None) -> None:  # fmt: skip
    """Traffic report from the daily aggregates (no personal data), or a hold's rows."""
    from logtool.report import ReportFormat, build, render, render_hold

    policy = obj.policy().policy
    with obj.open_store(create=False) as store:
        if hold_id:
            from logtool import holds

            now = datetime.now(UTC)
            h = holds.get(store, hold_id)
            rows = holds.matched_rows(store, h)
            holds.audit_output(store, h, "report-hold", rows.height, now)
            text = render_hold(h, rows, ReportFormat(fmt), now)
        else:
            rep = build(store, policy, parse_day(date_from, "--from"), parse_day(date_to, "--to"))
            text = render(rep, ReportFormat(fmt))
    out = _open_out(output, binary=False)
    out.write(text)
    if output:
        out.close()
        err(f"report written to {output}")


@cli.command()
@click.option(
    "--stage", type=click.Choice(["raw", "anonymised"]), help="Which stage to export (required without --hold)."
)
@click.option("--hold", "hold_id", help="Export the raw rows this hold matches (full detail).")
@click.option("--from", "date_from", help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Last day (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl", "parquet"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout.")
@click.pass_obj
def export(obj: Ctx, stage: str | None, hold_id: str | None, date_from: str | None, date_to: str | None, fmt: str,
           output: Path | None) -> None:  # fmt: skip
    """Export the rows of one stage (raw rows hold personal data: handle with care)."""
    from logtool.export import ExportFormat
    from logtool.export import export as do_export

    if fmt == "parquet" and output is None and sys.stdout.isatty():
        raise ConfigError("Parquet is binary: pass -o FILE or redirect stdout")
    if hold_id:
        from logtool.export import export_frame
        from logtool.holds import audit_output, get, matched_rows

        with obj.open_store(create=False) as store:
            h = get(store, hold_id)
            rows = matched_rows(store, h)
            out = _open_out(output, binary=True)
            try:
                export_frame(rows, out, ExportFormat(fmt))
            finally:
                if output:
                    out.close()
                else:
                    out.flush()
            audit_output(store, h, "export-hold", rows.height, datetime.now(UTC), format=fmt)
        err(f"exported {rows.height:,} rows under hold {hold_id}" + (f" to {output}" if output else ""))
        return
    if stage is None:
        raise ConfigError("name the stage to export with --stage raw|anonymised (or use --hold ID)")
    with obj.open_store(create=False) as store:
        out = _open_out(output, binary=True)
        try:
            n = do_export(
                store, stage, out, ExportFormat(fmt), parse_day(date_from, "--from"), parse_day(date_to, "--to")
            )
        finally:
            if output:
                out.close()
            else:
                out.flush()
    err(f"exported {n:,} {stage} rows" + (f" to {output}" if output else ""))


# anonymize ----------------------------------------------------------------------------------
@cli.command()
@click.argument("source", required=False, default="-")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append to this file (reopened on SIGHUP) instead of writing to stdout.",
)
@format_options
@policy_options
@click.pass_obj
def anonymize(
    obj: Ctx, source: str, output: Path | None, format_name, log_format, nginx_format, json_map, **kw
) -> None:  # type: ignore[no-untyped-def]
    """Rewrite log lines from SOURCE (file or - for stdin) with every personal field masked.

    Works as a pipe target: CustomLog "|logtool anonymize -o /var/log/apache2/access.log" combined
    """
    from logtool.anonymize.lines import LineAnonymizer
    from logtool.anonymize.stream import Output, run
    from logtool.errors import InputError
    from logtool.parsers import detect as do_detect

    policy = _policy_from(obj, kw)
    fmt = _line_format(format_name, log_format, nginx_format, json_map)
    path = None if source == "-" else Path(source)
    if path is not None and not path.exists():
        raise InputError(f"input file not found: {source}")
    with obj.open_store() as store:
        secret = store.secret()

    def anonymizer_for(first: Any) -> LineAnonymizer:
        chosen = fmt
        if chosen is None:
            lines = first.filter(first.str.len_bytes() > 0)
            try:
                chosen, _ = do_detect(lines, source)
            except InputError:
                err(
                    f"logtool anonymize: format of {source} not recognised; masking every IP-looking "
                    "token and e-mail address instead (pass --format or --log-format to keep fields)"
                )
        return LineAnonymizer(chosen, policy, secret)

    res = run(anonymizer_for, path, Output(output, sys.stdout.buffer))
    if output is not None:
        err(f"anonymized {res.lines:,} lines into {output}" + (f" (reopened {res.reopened}x)" if res.reopened else ""))


# status, config, formats, detect, demo ------------------------------------------------------
@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--now", "now_s", help="Evaluate against the policy as of this time.")
@click.pass_obj
def status(obj: Ctx, fmt: str, now_s: str | None) -> None:
    """What the store holds per stage, against the policy."""
    from logtool.status import status as do_status

    policy = obj.policy().policy
    with obj.open_store(create=False) as store:
        st = do_status(store, policy, parse_now(now_s))
    if fmt == "json":
        click.echo(json.dumps(st, indent=2, default=str))
        return
    click.echo(f"store {st['store']}  (raw_days={policy.raw_days}, anonymised_days={policy.anonymised_days})")
    for stage, s in st["stages"].items():
        span = f"{s['oldest_day']} … {s['newest_day']}" if s["oldest_day"] else "empty"
        click.echo(f"  {stage:<11} {s['rows']:>12,} rows  {s['bytes'] / 1e6:>9.1f} MB  {span}")
    click.echo(
        f"  overdue for retention: {st['overdue_rows']['raw']:,} raw, {st['overdue_rows']['anonymised']:,} anonymised rows"
    )
    click.echo(f"  files ingested: {st['files_ingested']} ({st['lines_ingested']:,} lines)")
    if st["quarantine"]:
        click.echo("  quarantined: " + ", ".join(f"{k} {v:,}" for k, v in st["quarantine"].items()))
    now = parse_now(now_s)
    for h in st["holds"]:
        left = (datetime.fromisoformat(h["expires_at"]) - now).days
        warn = "  ← lapses soon: 'logtool hold extend' if still needed" if left < 7 else ""
        click.echo(f"  hold {h['id']}: active, expires {h['expires_at'][:10]} (in {left} days){warn} — {h['reason']}")
    if st["restricted_subjects"]:
        click.echo(f"  restricted subjects (Art. 18): {st['restricted_subjects']}")
    if st["last_nightly"]:
        click.echo(f"  last nightly run: {st['last_nightly']['finished_at']}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--now", "now_s", help="Check retention as of this time (ISO 8601; default now).")
@click.pass_obj
def verify(obj: Ctx, fmt: str, now_s: str | None) -> None:
    """Check the whole store against the catalog and the policy; exit 1 listing any problem."""
    from logtool.verify import verify as do_verify

    policy = obj.policy().policy
    with obj.open_store(create=False) as store:
        problems = do_verify(store, policy, parse_now(now_s))
    if fmt == "json":
        click.echo(json.dumps({"ok": not problems, "problems": [p.to_dict() for p in problems]}, indent=2))
    else:
        for p in problems:
            click.echo(f"{p.kind:<10} {p.where}: {p.detail}")
        err(
            "verify: the store is consistent with the catalog and the policy"
            if not problems
            else f"verify: {len(problems)} problem(s)"
        )
    if problems:
        sys.exit(EXIT_FINDINGS)


def parse_since(value: str | None, now: datetime) -> datetime | None:
    """``--since``: a duration back from now (``24h``, ``2d``, ``90m``) or an ISO time."""
    if value is None:
        return None
    import re
    from datetime import timedelta

    m = re.fullmatch(r"(\d+)\s*([mhd])", value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        unit_name = {"m": "minutes", "h": "hours", "d": "days"}[unit]
        return now - timedelta(**{unit_name: n})
    return parse_now(value)


@cli.command()
@click.option("--since", help="Look back this far: 24h, 2d, 90m, or an ISO time.")
@click.option("--from", "date_from", help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Last day (YYYY-MM-DD).")
@click.option("--hold", "hold_id", help="Review the rows of this hold, with full addresses and requests.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "md"]), default="table", show_default=True)
@click.option(
    "--fail-on", type=click.Choice(["low", "medium", "high"]), help="Exit 1 if a finding is at least this severe."
)
@click.option("--rules", type=click.Path(dir_okay=False), help="TOML file laid over the shipped review rules.")
@click.option("--now", "now_s", help="Evaluate --since as of this time (ISO 8601; default now).")
@click.option(
    "--blocklist",
    type=click.Choice(["nftables", "ipset", "plain"]),
    help="With --hold: print the offending addresses for a firewall instead of findings.",
)
@click.pass_obj
def review(obj: Ctx, since: str | None, date_from: str | None, date_to: str | None, hold_id: str | None,
           fmt: str, fail_on: str | None, rules: str | None, now_s: str | None,
           blocklist: str | None = None) -> None:  # fmt: skip
    """Find attacks: signatures, protocol anomalies and fake crawlers per request; brute force,
    probing, user-agent switching, floods and 5xx spikes per client over sliding windows.

    Reads the raw stage, and the anonymised stage for days that have left it (clients are then
    networks). Thresholds and severities: logtool/review/rules.toml, overridable with --rules."""
    from logtool.review.findings import at_least
    from logtool.review.findings import review as do_review
    from logtool.review.render import render as render_findings

    now = parse_now(now_s)
    policy = obj.policy(review_rules=rules).policy
    with obj.open_store(create=False) as store:
        hold_obj = None
        if hold_id:
            from logtool import holds

            hold_obj = holds.get(store, hold_id)
        found = do_review(store, policy, parse_since(since, now), parse_day(date_from, "--from"),
                          parse_day(date_to, "--to"), hold_obj)  # fmt: skip
        if hold_obj is not None:
            holds.audit_output(store, hold_obj, "review-hold", sum(f.count for f in found), now)
    if blocklist:
        if hold_obj is None:
            raise ConfigError("--blocklist needs --hold ID: only a held incident names full addresses")
        from logtool.review.findings import blocklist as make_blocklist

        click.echo(make_blocklist(found, blocklist), nl=False)
        return
    click.echo(render_findings(found, fmt), nl=False)
    if fmt == "table":
        err(f"review: {len(found)} findings" + ("" if hold_obj else " (clients as networks, samples redacted)"))
    if fail_on and at_least(found, fail_on):
        sys.exit(EXIT_FINDINGS)


@cli.group()
def hold() -> None:
    """Incident holds: keep matching rows as evidence past their retention window."""


def _print_hold(h: Any, now: datetime) -> None:
    d = h.to_dict(now)
    nets = ", ".join(d["networks"]) or "all clients"
    click.echo(
        f"{d['id']:<12} {d['state']:<8} {d['from']} … {d['to'] or 'open'}  {nets}  "
        f"expires {d['expires_at']}  — {d['reason']}"
    )


@hold.command("create")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the data is kept (the legal ground).")
@click.option("--from", "start", required=True, help="Start of the incident window (ISO 8601).")
@click.option("--to", "end", help="End of the window (ISO 8601); open-ended if omitted.")
@click.option("--network", "networks", multiple=True, help="Only clients in this address or CIDR (repeatable).")
@click.option("--expires", help="When the hold lapses by itself (default: 90 days from now).")
@click.option("--now", "now_s", help="Creation time (ISO 8601; default now).")
@click.pass_obj
def hold_create(obj: Ctx, hold_id: str, reason: str, start: str, end: str | None, networks: tuple[str, ...],
                expires: str | None, now_s: str | None) -> None:  # fmt: skip
    """Create a hold: retention spares the rows it matches until it is released or expires."""
    from logtool import holds

    now = parse_now(now_s)
    with obj.open_store() as store:
        h = holds.create(store, hold_id, reason, parse_now(start), now, parse_now(end) if end else None,
                         list(networks), parse_now(expires) if expires else None)  # fmt: skip
    _print_hold(h, now)


@hold.command("list")
@click.option("--now", "now_s", help="Evaluate states as of this time.")
@click.pass_obj
def hold_list(obj: Ctx, now_s: str | None) -> None:
    """All holds with their state (active, expired, released)."""
    from logtool import holds

    now = parse_now(now_s)
    with obj.open_store(create=False) as store:
        for h in holds.all_holds(store):
            _print_hold(h, now)


@hold.command("show")
@click.argument("hold_id")
@click.option("--now", "now_s", help="Evaluate the state as of this time.")
@click.pass_obj
def hold_show(obj: Ctx, hold_id: str, now_s: str | None) -> None:
    """One hold in full, as JSON."""
    from logtool import holds

    with obj.open_store(create=False) as store:
        click.echo(json.dumps(holds.get(store, hold_id).to_dict(parse_now(now_s)), indent=2))


@hold.command("extend")
@click.argument("hold_id")
@click.option("--expires", required=True, help="New expiry time (ISO 8601).")
@click.option("--now", "now_s", help="Time of the change (ISO 8601; default now).")
@click.pass_obj
def hold_extend(obj: Ctx, hold_id: str, expires: str, now_s: str | None) -> None:
    """Move a hold's expiry."""
    from logtool import holds

    now = parse_now(now_s)
    with obj.open_store(create=False) as store:
        _print_hold(holds.extend(store, hold_id, parse_now(expires), now), now)


@hold.command("release")
@click.argument("hold_id")
@click.option("--now", "now_s", help="Time of the release (ISO 8601; default now).")
@click.pass_obj
def hold_release(obj: Ctx, hold_id: str, now_s: str | None) -> None:
    """Release a hold: the next 'logtool retain' processes its rows normally."""
    from logtool import holds

    now = parse_now(now_s)
    with obj.open_store(create=False) as store:
        _print_hold(holds.release(store, hold_id, now), now)


@hold.command("export")
@click.argument("hold_id")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="New folder for the evidence bundle.",
)
@click.option("--now", "now_s", help="Time of the export (ISO 8601; default now).")
@click.pass_obj
def hold_export(obj: Ctx, hold_id: str, out_dir: Path, now_s: str | None) -> None:
    """Write an evidence bundle: matched rows (Parquet, CSV), the hold, a SHA-256 manifest."""
    from logtool.bundle import export_bundle

    with obj.open_store(create=False) as store:
        m = export_bundle(store, hold_id, out_dir, parse_now(now_s))
    err(f"evidence bundle for {hold_id}: {m['rows']:,} rows, {len(m['sha256'])} files + manifest in {out_dir}")


@hold.command("verify-bundle")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
def hold_verify_bundle(bundle: Path) -> None:
    """Check every file of an evidence bundle against its manifest; exit 1 on any difference."""
    from logtool.bundle import verify_bundle

    problems = verify_bundle(bundle)
    for p in problems:
        click.echo(p)
    if problems:
        err(f"verify-bundle: {len(problems)} problem(s) in {bundle}")
        sys.exit(EXIT_FINDINGS)
    err(f"verify-bundle: {bundle} is intact")


@cli.group()
def subject() -> None:
    """Data-subject requests for one IP address: find, export, erase, restrict (GDPR)."""


def _ip_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--ip", "ip", required=True, help="The subject's IP address (any spelling).")(f)


@subject.command("find")
@_ip_option
@click.option("--from", "date_from", help="First day (YYYY-MM-DD).")
@click.option("--to", "date_to", help="Last day (YYYY-MM-DD).")
@click.option("--now", "now_s", help="Evaluate holds as of this time.")
@click.pass_obj
def subject_find(obj: Ctx, ip: str, date_from: str | None, date_to: str | None, now_s: str | None) -> None:
    """Art. 15: what the store holds about an address, summarised (JSON)."""
    from logtool import subjects

    with obj.open_store(create=False) as store:
        res = subjects.find(store, ip, parse_now(now_s), parse_day(date_from, "--from"), parse_day(date_to, "--to"))
    click.echo(json.dumps(res, indent=2))


@subject.command("export")
@_ip_option
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--now", "now_s", help="Time of the export (ISO 8601; default now).")
@click.pass_obj
def subject_export(obj: Ctx, ip: str, output: Path, fmt: str, now_s: str | None) -> None:
    """Art. 15/20: a machine-readable copy of every row linked to the address."""
    from logtool import subjects

    with obj.open_store(create=False) as store, open(output, "wb") as out:
        n = subjects.export(store, ip, out, fmt, parse_now(now_s))
    err(f"exported {n:,} rows linked to the address to {output}")


@subject.command("erase")
@_ip_option
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
@click.option("--now", "now_s", help="Time of the erasure (ISO 8601; default now).")
@click.pass_obj
def subject_erase(obj: Ctx, ip: str, dry_run: bool, now_s: str | None) -> None:
    """Art. 17: delete every row linked to the address, except rows under an active hold."""
    from logtool import subjects

    with obj.open_store(create=False) as store:
        res = subjects.erase(store, ip, parse_now(now_s), dry_run)
    verb = "would erase" if dry_run else "erased"
    err(f"{verb} {res.erased_rows:,} rows of {res.subject}")
    for hold_id, n in res.kept_by_holds.items():
        err(f"kept {n:,} rows under hold {hold_id}: {res.legal_ground}")


@subject.command("restrict")
@_ip_option
@click.option("--now", "now_s", help="Time of the change (ISO 8601; default now).")
@click.pass_obj
def subject_restrict(obj: Ctx, ip: str, now_s: str | None) -> None:
    """Art. 18: keep the address's rows but leave them out of exports until unrestricted."""
    from logtool import subjects

    with obj.open_store(create=False) as store:
        err(f"restricted {subjects.restrict(store, ip, parse_now(now_s))}")


@subject.command("unrestrict")
@_ip_option
@click.option("--now", "now_s", help="Time of the change (ISO 8601; default now).")
@click.pass_obj
def subject_unrestrict(obj: Ctx, ip: str, now_s: str | None) -> None:
    """Lift a restriction set with 'logtool subject restrict'."""
    from logtool import subjects

    with obj.open_store(create=False) as store:
        err(f"unrestricted {subjects.restrict(store, ip, parse_now(now_s), on=False)}")


@cli.group()
def audit() -> None:
    """The hash-chained audit trail of every change to the store."""


@audit.command("list")
@click.option("--since", help="Only entries at or after this time (ISO 8601).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def audit_list(obj: Ctx, since: str | None, fmt: str) -> None:
    """Show audit entries: time, OS user, action, parameters, counts."""
    with obj.open_store(create=False) as store:
        entries = store.catalog.audit_entries(parse_now(since).isoformat() if since else None)
    if fmt == "json":
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        click.echo(f"{e['id']:>5} {e['ts'][:19]} {e['os_user']:<10} {e['action']:<14} {e['params']} {e['counts']}")


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Ctx) -> None:
    """Recompute the hash chain; exit 1 if an entry was changed, removed or reordered."""
    from logtool.audit import verify_chain

    with obj.open_store(create=False) as store:
        res = verify_chain(store)
    if res.ok:
        err(f"audit: {res.entries} entries, chain intact")
        return
    err(f"audit: chain broken: {res.problem}")
    sys.exit(EXIT_FINDINGS)


@cli.group()
def config() -> None:
    """Inspect the effective policy."""


@config.command("show")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@policy_options
@click.pass_obj
def config_show(obj: Ctx, fmt: str, **kw: Any) -> None:
    """Print the effective policy and where each value comes from."""
    keys = ("raw_days", "anonymised_days", "ipv4_prefix", "ipv6_prefix", "ip_preset", "geoip_db")
    src = obj.policy(**{k: kw.get(k) for k in keys})
    values = src.policy.to_dict()
    if fmt == "json":
        click.echo(json.dumps({"policy": values, "origins": src.origins, "store": str(obj.store_path)}, indent=2))
        return
    click.echo(f"# store: {obj.store_path}")
    click.echo(f"# config file: {obj.config or '(none)'}")
    click.echo("[policy]")
    docs = describe()
    for k, v in values.items():
        click.echo(f"{k} = {json.dumps(v)}  # {docs[k]} [{src.origins[k]}]")


@cli.command()
def formats() -> None:
    """List the log formats logtool reads, with a sample line each."""
    from logtool.parsers import REGISTRY

    for name, fmt in REGISTRY.items():
        click.echo(f"{name:<16} {fmt.description}")
        click.echo(f"{'':<16} {fmt.sample}")


@cli.command()
@click.argument("files", nargs=-1, required=True)
def detect(files: tuple[str, ...]) -> None:
    """Print the detected format of each FILE and how much of a sample it parses.

    Every file is tried; a file whose format is unknown or ambiguous is reported on stderr,
    and the exit status is then 3."""
    from logtool.errors import InputError
    from logtool.inputs import iter_batches, make_inputs
    from logtool.parsers import SAMPLE_LINES
    from logtool.parsers import detect as do_detect

    failed: InputError | None = None
    for inp in make_inputs(list(files)):
        batch = next(iter_batches(inp, batch_bytes=1 << 20), None)
        if batch is None:
            click.echo(f"{inp.name}: empty")
            continue
        lines = batch.get_column("line").head(SAMPLE_LINES)
        lines = lines.filter(lines.str.len_bytes() > 0)
        try:
            fmt, rate = do_detect(lines, inp.name)
        except InputError as e:
            err(f"logtool: error: {e}")
            failed = e
            continue
        click.echo(f"{inp.name}: {fmt.name} ({rate:.0%} of {lines.len()} sampled lines parsed)")
    if failed is not None:
        sys.exit(failed.exit_code)


@cli.command()
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_REPORTS,
    show_default=True,
    help="Where to write the demo report.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the sample logs and store here (default: a temporary directory, removed after).",
)
def demo(reports_dir: Path, workdir: Path | None) -> None:
    """Run the whole lifecycle on generated sample logs and write a report."""
    from logtool.demo import run_demo

    err("logtool demo: the whole privacy lifecycle on generated sample logs\n")
    if workdir is not None:
        run_demo(workdir, reports_dir, say=err)
    else:
        with tempfile.TemporaryDirectory(prefix="logtool-demo-") as tmp:
            run_demo(Path(tmp), reports_dir, say=err)
    err(f"\nDone. Read {reports_dir / 'demo-report.txt'}; on your own logs: logtool ingest /var/log/nginx/access.log.1")


def main() -> None:  # pragma: no cover - console script entry point
    from logtool.pipeline import tune_allocator

    tune_allocator()
    try:
        cli(prog_name="logtool")
    except LogtoolError as e:  # raised outside a command (option callbacks)
        err(f"logtool: error: {e}")
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except BrokenPipeError:
        sys.exit(0)
