"""Data commands: report, export, review."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from logtool.cli.common import (
    Ctx,
    LazyChoice,
    format_option,
    now_option,
    output,
    output_option,
    period_options,
    plural,
)
from logtool.errors import ConfigError

if TYPE_CHECKING:  # the enums' modules load polars: imported when a command runs or shows its help
    from logtool.governance.export import ExportFormat
    from logtool.render import ReportFormat
    from logtool.render.findings import FindingFormat

SEVERITY = click.Choice(["low", "medium", "high"])


def _report_formats() -> type[ReportFormat]:
    from logtool.render import ReportFormat

    return ReportFormat


def _export_formats() -> type[ExportFormat]:
    from logtool.governance.export import ExportFormat

    return ExportFormat


def _finding_formats() -> type[FindingFormat]:
    from logtool.render.findings import FindingFormat

    return FindingFormat


def _blocklist_styles() -> list[str]:
    from logtool.render.blocklist import BlocklistStyle

    return [s.value for s in BlocklistStyle]


def _compare() -> tuple[str, ...]:
    from logtool.report import COMPARE

    return COMPARE


class StageType(click.Choice):
    """``raw`` or ``anonymised`` (``anonymized`` accepted)."""

    def __init__(self) -> None:
        super().__init__(["raw", "anonymised", "anonymized"])

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        return "anonymised" if super().convert(value, param, ctx) == "anonymized" else value


@click.command()
@period_options(month=True)
@format_option(_report_formats, "table")
@output_option()
@click.option("--vhost", help="Only this virtual host (as logged, any case).")
@click.option("--compare", type=LazyChoice(_compare),
              help="Each KPI with its change against the previous period of the same length.")  # fmt: skip
@click.option("--hold", "hold_id", help="Row-level detail (full addresses, requests) of the rows this hold matches.")
@now_option
@click.pass_obj
def report(obj: Ctx, date_from: str | None, date_to: str | None, fmt: ReportFormat, out_path: Path | None,
           vhost: str | None, compare: str | None, hold_id: str | None, now: datetime) -> None:  # fmt: skip
    """Traffic report from the daily aggregates (no personal data) with the store's privacy and
    compliance state, or a hold's rows. --format html writes one self-contained page."""
    from logtool.render import render_hold, render_report
    from logtool.report import build, hold_detail

    policy = obj.policy().policy
    if hold_id:
        if vhost or compare:
            raise ConfigError("--hold shows the hold's rows: --vhost and --compare apply to aggregate reports")
        with obj.open_store(write=True) as store:
            hold, rows = hold_detail(store, hold_id, now)
        text = render_hold(hold, rows, fmt, now)
    else:
        with obj.open_store() as store:
            text = render_report(build(store, policy, date_from, date_to, vhost=vhost, compare=compare, now=now), fmt)
    with output(out_path, private=hold_id is not None) as out:
        out.write(text)
    if out_path:
        obj.say(f"report written to {out_path}" + (" (personal data: keep it with the incident)" if hold_id else ""))


@click.command()
@click.option("--stage", type=StageType(), help="Which stage to export (required without --hold).")
@click.option("--hold", "hold_id", help="Export the raw rows this hold matches (full detail).")
@period_options()
@format_option(_export_formats, "csv")
@output_option()
@now_option
@click.pass_obj
def export(obj: Ctx, stage: str | None, hold_id: str | None, date_from: str | None, date_to: str | None,
           fmt: ExportFormat, out_path: Path | None, now: datetime) -> None:  # fmt: skip
    """Export the rows of one stage (raw rows hold personal data: handle with care)."""
    from logtool.governance.export import ExportFormat, export_hold
    from logtool.governance.export import export as do_export

    if fmt is ExportFormat.parquet and out_path is None and sys.stdout.isatty():
        raise ConfigError("Parquet is binary: pass -o FILE or redirect stdout")
    if hold_id and stage:
        raise ConfigError("use either --stage or --hold")
    if not hold_id and stage is None:
        raise ConfigError("name the stage to export with --stage raw|anonymised (or use --hold ID)")
    where = f" to {out_path}" if out_path else ""
    with obj.open_store(write=True) as store, output(out_path, binary=True, private=True) as out:
        if hold_id:
            n = export_hold(store, hold_id, out, now, fmt)
            what = f"{plural(n, 'row')} under hold {hold_id}"
        else:
            n = do_export(store, stage, out, now, fmt, date_from, date_to)  # type: ignore[arg-type]
            what = f"{n:,} {stage} {'row' if n == 1 else 'rows'}"
    obj.say(f"exported {what}{where}")


@click.command()
@click.option("--since", help="Look back this far: 24h, 2d, 90m, or an ISO time.")
@period_options()
@click.option("--hold", "hold_id", help="Review the rows of this hold, with full addresses and requests.")
@format_option(_finding_formats, "table")
@click.option("--fail-on", type=SEVERITY, help="Exit 1 if a finding is at least this severe.")
@click.option("--min-severity", type=SEVERITY, help="Show only findings at least this severe.")
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="Show at most N findings (default: a screenful in a terminal, all otherwise; 0: all).",
)
@click.option("--rules", type=click.Path(dir_okay=False), help="TOML file laid over the shipped review rules.")
@click.option(
    "--verify-crawlers-dns",
    is_flag=True,
    help="Check claimed search-engine crawlers by forward-confirmed reverse DNS (network look-ups).",
)
@now_option
@click.option(
    "--blocklist",
    type=LazyChoice(_blocklist_styles),
    help="With --hold: print the offending addresses for a firewall instead of findings.",
)
@click.pass_obj
def review(obj: Ctx, since: str | None, date_from: str | None, date_to: str | None, hold_id: str | None,
           fmt: FindingFormat, fail_on: str | None, min_severity: str | None, limit: int | None, rules: str | None,
           verify_crawlers_dns: bool, now: datetime, blocklist: str | None) -> Any:  # fmt: skip
    """Find attacks: signatures in every field that carries attacker text, protocol anomalies,
    fake crawlers and the quarantine, per request; brute force, probing, user-agent switching,
    floods and 5xx spikes per client over sliding windows.

    Reads the raw stage, and the anonymised stage for days that have left it (clients are then
    networks). Most severe first, a summary line per category on top. Thresholds, severities
    and allow-lists: logtool/detect/rules.toml, overridable with --rules."""
    import shutil

    from logtool.render.blocklist import BlocklistStyle, render_blocklist
    from logtool.render.findings import FindingFormat, render, select
    from logtool.review import ReviewResult, run_review
    from logtool.review import blocklist as do_blocklist
    from logtool.review.crawlers import dns_verifier
    from logtool.timespec import parse_since

    policy = obj.policy(review_rules=rules).policy
    if blocklist:
        if hold_id is None:
            raise ConfigError("--blocklist needs --hold ID: only a held incident names full addresses")
        with obj.open_store(write=True) as store:
            nets = do_blocklist(store, policy, hold_id, now)
        click.echo(render_blocklist(nets, BlocklistStyle(blocklist)), nl=False)
        return None
    if date_from and date_to and date_from > date_to:
        raise ConfigError(f"--from {date_from} is after --to {date_to}")
    start = parse_since(since, now) if since else None
    verify = dns_verifier() if verify_crawlers_dns else None
    with obj.open_store(write=hold_id is not None) as store, obj.progress()("reviewing") as tick:
        res = run_review(store, policy, now, start, date_from, date_to, hold_id, progress=tick, verify=verify)
    terminal = fmt is FindingFormat.table and sys.stdout.isatty()
    if limit is None and terminal:
        limit = max(5, shutil.get_terminal_size().lines - 12)
    shown = select(res.findings, min_severity, limit if fmt is FindingFormat.table or limit else None)
    width = min(shutil.get_terminal_size().columns, 160) if terminal else 80
    click.echo(render(shown, fmt, width), nl=False)
    if fmt is FindingFormat.table:
        wanted = len(select(res.findings, min_severity))
        more = f", {wanted - len(shown):,} more (--limit 0 shows all)" if wanted > len(shown) else ""
        quiet = f", {res.suppressed:,} suppressed by the allow-list" if res.suppressed else ""
        privacy = "" if hold_id else " (clients as networks, samples redacted)"
        obj.say(f"review: {plural(len(res.findings), 'finding')}{more}{quiet}{privacy}; {res.rows:,} requests"
                f" and {res.quarantined:,} quarantined lines read")  # fmt: skip
    return ReviewResult(res.findings, fail_on, res.suppressed, res.rows, res.quarantined)


COMMANDS = [report, export, review]
