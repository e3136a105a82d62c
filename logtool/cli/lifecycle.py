"""Lifecycle commands: ingest, retain, nightly, anonymize, demo."""

from __future__ import annotations

import functools
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from logtool.cli.common import Ctx, LazyChoice, err, now_option, plural, policy_options, settle_heap, wall_clock
from logtool.render.text import visible

DEFAULT_REPORTS = Path("reports")
#: Policy flags of the conversation windows, on the commands that apply retention.
CONVERSATION_FLAGS = ("conversations_raw_days", "conversations_anonymised_days", "conversation_text")


def _format_names() -> list[str]:
    """Every format's name (the parsers load polars: only when a command runs or shows its help)."""
    from logtool.parsers import CONV_REGISTRY, REGISTRY

    return [*REGISTRY, *CONV_REGISTRY]


def line_format_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--format NAME`` or a description of the format; the command gets ``line_format``."""

    @functools.wraps(f)
    def wrapper(*args: Any, format_name: str | None, log_format: str | None, nginx_format: str | None,
                json_map: str | None, **kw: Any) -> Any:  # fmt: skip
        from logtool.parsers import choose_format

        return f(*args, line_format=choose_format(format_name, log_format, nginx_format, json_map), **kw)

    out: Any = wrapper
    out = click.option(
        "--json-map", help="JSON lines: FIELD=KEY pairs, e.g. 'ts=time,client_ip=remote_addr,request=req'."
    )(out)
    out = click.option("--nginx-format", help="nginx log_format string of your logs, e.g. '$remote_addr - …'.")(out)
    out = click.option("--log-format", help="Apache LogFormat string of your logs, e.g. '%h %l %u %t \"%r\" %>s %b'.")(
        out
    )
    return click.option("--format", "format_name", type=LazyChoice(_format_names),
                        help="Force a format instead of auto-detection.")(out)  # fmt: skip


def print_ingest(obj: Ctx, results: list[Any]) -> None:
    for r in results:
        name = visible(r.name)
        if r.status == "duplicate":
            obj.say(f"{name}: already ingested (same content as {visible(r.duplicate_of)}); nothing to do")
        elif r.status == "empty":
            obj.say(f"{name}: empty; nothing to do")
        else:
            again = " (the earlier ingest of this content was forgotten)" if r.replaced else ""
            obj.say(f"{name}: {plural(r.lines, 'line')} as {r.format}, {r.parsed:,} stored, "
                    f"{r.rejected:,} quarantined{again}")  # fmt: skip
            for reason, n in sorted(r.reasons.items(), key=lambda kv: -kv[1]):
                obj.say(f"    {n:>8,}  {visible(reason)}")
            if r.variants:
                obj.say("  read in a layout variant: " + ", ".join(f"{v} {n:,}" for v, n in sorted(r.variants.items())))


def _span(days: list[str]) -> str:
    return f" ({days[0]} … {days[-1]})" if days else ""


def print_retain(obj: Ctx, res: Any) -> None:
    verb = "would" if res.dry_run else "did"
    obj.say(f"retain as of {res.now.isoformat(timespec='minutes')} ({'dry run' if res.dry_run else 'applied'}):")
    obj.say(f"  anonymise: {plural(len(res.anonymised_days), 'day')}, {plural(res.anonymised_rows, 'row')}"
            + _span(res.anonymised_days))  # fmt: skip
    obj.say(f"  delete:    {plural(len(res.deleted_days), 'day')}, {plural(res.deleted_rows, 'row')}"
            + _span(res.deleted_days))  # fmt: skip
    if res.quarantine_rows:
        obj.say(f"  quarantine: {plural(res.quarantine_rows, 'line')} deleted with the raw window"
                + _span(res.quarantine_days))  # fmt: skip
    if res.held_rows or res.quarantine_held_rows:
        kept = plural(res.held_rows + res.quarantine_held_rows, "row")
        obj.say(f"  kept:      {kept} past their window under active holds")
    conv = res.conversations
    if conv.anonymised_days or conv.deleted_days or conv.held_rows:
        obj.say(f"  conversations: anonymise {plural(len(conv.anonymised_days), 'day')} "
                f"({plural(conv.anonymised_rows, 'record')}), delete {plural(len(conv.deleted_days), 'day')} "
                f"({plural(conv.deleted_rows, 'record')}), kept under holds {plural(conv.held_rows, 'record')}")  # fmt: skip
    for where, path, why in res.damaged:
        err(f"logtool: error: {where} left as it is: partition {visible(path)} is damaged ({visible(why)}); "
            "run 'logtool verify', and 'logtool verify --repair' to set it aside")  # fmt: skip
    if not (res.anonymised_days or res.deleted_days or res.quarantine_days or conv.anonymised_days
            or conv.deleted_days or res.damaged):  # fmt: skip
        obj.say(f"  nothing {verb} change: the store already follows the policy")


@click.command()
@click.argument("files", nargs=-1, required=True)
@line_format_options
@policy_options("ipv4_prefix", "ipv6_prefix", "ip_preset", "geoip_db")
@click.option("--no-geo", is_flag=True, help="Skip the country lookup.")
@click.option("--replace", is_flag=True, help="Forget an earlier ingest of the same content first (audited).")
@now_option
@click.pass_obj
def ingest(obj: Ctx, files: tuple[str, ...], line_format: Any, overrides: dict[str, Any], no_geo: bool,
           replace: bool, now: datetime) -> None:  # fmt: skip
    """Parse log FILES (plain, .gz, .bz2, .xz, .zst, or - for stdin) into the store.

    A file ingested before is skipped; --replace forgets that ingest first (e.g. after a wrong
    --format), as 'logtool forget FILE' does."""
    from logtool.enrich.geo import GeoDB
    from logtool.inputs import make_inputs
    from logtool.lifecycle.ingest import ingest as do_ingest

    settle_heap()
    policy = obj.policy(**overrides).policy
    geo = None if no_geo else GeoDB(policy.geoip_db or None)
    inputs = make_inputs(list(files))
    with obj.open_store(write=True) as store, obj.progress()("ingesting", byte_units=True) as tick:
        results = do_ingest(store, inputs, policy, now, line_format, geo, tick, replace=replace)
    print_ingest(obj, results)


@click.command()
@now_option
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@policy_options("raw_days", "anonymised_days", "ipv4_prefix", "ipv6_prefix", "ip_preset", *CONVERSATION_FLAGS)
@click.pass_obj
def retain(obj: Ctx, now: datetime, dry_run: bool, overrides: dict[str, Any]) -> Any:
    """Anonymise raw days past raw_days; delete anonymised days past anonymised_days.

    A day with a damaged partition is left as it is and reported (exit 1); every other day is
    processed."""
    from logtool.lifecycle.retention import retain as do_retain

    policy = obj.policy(**overrides).policy
    with obj.open_store(write=True) as store, obj.progress()("retaining") as tick:
        res = do_retain(store, policy, now, dry_run=dry_run, progress=tick)
    print_retain(obj, res)
    return res


@click.command()
@click.argument("files", nargs=-1, required=True)
@line_format_options
@policy_options(
    "raw_days", "anonymised_days", "ipv4_prefix", "ipv6_prefix", "ip_preset", "geoip_db", *CONVERSATION_FLAGS
)
@now_option
@click.option(
    "--fail-on",
    type=click.Choice(["low", "medium", "high"]),
    help="Exit 1 (after all work is saved) if the review finds something at least this severe.",
)
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write the HTML report of the days ingested here (logtool-report-DAY.html).")  # fmt: skip
@click.option("--no-verify", is_flag=True, help="Skip verify and the audit-chain check (reports show the last result).")
@click.pass_obj
def nightly(obj: Ctx, files: tuple[str, ...], line_format: Any, overrides: dict[str, Any], now: datetime,
            fail_on: str | None, report_dir: Path | None, no_verify: bool) -> Any:  # fmt: skip
    """Ingest FILES, review the days they hold, apply retention, check the store, print a short
    summary (for logrotate/systemd); optionally write the day's HTML report."""
    from logtool.enrich.geo import GeoDB
    from logtool.inputs import make_inputs
    from logtool.jobs.nightly import nightly as do_nightly

    settle_heap()
    policy = obj.policy(**overrides).policy
    inputs = make_inputs(list(files))
    with obj.open_store(write=True) as store, obj.progress()("ingesting", byte_units=True) as tick:
        res = do_nightly(store, inputs, policy, now, line_format, GeoDB(policy.geoip_db or None), fail_on, tick,
                         clock=wall_clock, check=not no_verify, report_dir=report_dir)  # fmt: skip
    print_ingest(obj, res.files)
    print_retain(obj, res.retained)
    if res.checks is not None:
        v, a = res.checks["verify"], res.checks["audit"]
        obj.say(f"verify: {'no problems' if v['ok'] else plural(v['problems'], 'problem') + ' (run logtool verify)'}; "
                f"audit chain: {'intact' if a['ok'] else 'BROKEN: ' + a['problem']}")  # fmt: skip
    if res.report is not None:
        obj.say(f"report written to {res.report}")
    if res.days:
        from logtool.render.findings import summary  # the review's renderer: only nightly needs it

        click.echo(summary(res.findings, res.period), nl=False)
        if res.findings:
            click.echo(f"Details: logtool review --from {res.days[0]} --to {res.days[-1]}")
    return res


@click.command()
@click.argument("source", required=False, default="-")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append to this file (reopened on SIGHUP) instead of writing to stdout.",
)
@line_format_options
@policy_options("ipv4_prefix", "ipv6_prefix", "ip_preset", "anonymize_query_allowlist")
@click.pass_obj
def anonymize(obj: Ctx, source: str, output: Path | None, line_format: Any, overrides: dict[str, Any]) -> None:
    """Rewrite log lines from SOURCE (file or - for stdin) with every personal field masked.

    Works as a pipe target: CustomLog "|logtool anonymize -o /var/log/apache2/access.log" combined
    """
    from logtool.anonymize.stream import Output
    from logtool.anonymize.stream import anonymize as do_anonymize

    settle_heap(one_arena=True)  # before any polars work: a thread keeps the heap it has
    policy = obj.policy(**overrides).policy
    res = do_anonymize(None if source == "-" else Path(source), Output(output, sys.stdout.buffer), policy,
                       line_format, warn=err)  # fmt: skip
    if output is not None:
        obj.say(f"anonymized {plural(res.lines, 'line')} into {output}"
                + (f" (reopened {res.reopened}x)" if res.reopened else ""))  # fmt: skip


@click.command()
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
@click.pass_obj
def demo(obj: Ctx, reports_dir: Path, workdir: Path | None) -> None:
    """Run the whole lifecycle on generated sample logs and write a report."""
    from logtool.jobs.demo import run_demo

    err("logtool demo: the whole privacy lifecycle on generated sample logs\n")
    if workdir is not None:
        res = run_demo(workdir, reports_dir, say=err)
    else:
        with tempfile.TemporaryDirectory(prefix="logtool-demo-") as tmp:
            res = run_demo(Path(tmp), reports_dir, say=err)
    err(f"\nDone. Open the dashboard in a browser: {res.reports[0]} (also {', '.join(str(p) for p in res.reports[1:])}); "
        "on your own logs: logtool ingest /var/log/nginx/access.log.1")  # fmt: skip
    click.echo(res.reports[0])  # the HTML report's path, for scripts: xdg-open "$(logtool demo)"


COMMANDS = [ingest, retain, nightly, anonymize, demo]
