"""Administration: status, verify, audit, config, formats, detect, recover, forget."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from typing import Any

import click

from logtool.cli.common import Ctx, err, format_option, now_option, plural, policy_options
from logtool.config import describe
from logtool.errors import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK
from logtool.render.text import visible


class TableFormat(enum.StrEnum):
    table = "table"
    json = "json"


class ConfigFormat(enum.StrEnum):
    toml = "toml"
    json = "json"


class Outcome:
    """A command's exit status, for the group's one exit-code policy."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code


@click.command()
@format_option(TableFormat, TableFormat.table)
@now_option
@click.pass_obj
def status(obj: Ctx, fmt: TableFormat, now: datetime) -> None:
    """What the store holds per stage, against the policy."""
    from logtool.governance.status import status as do_status

    policy = obj.policy().policy
    with obj.open_store() as store:
        st = do_status(store, policy, now)
    if fmt is TableFormat.json:
        click.echo(json.dumps(st, indent=2, default=str))
        return
    click.echo(f"store {st['store']}  (raw_days={policy.raw_days}, anonymised_days={policy.anonymised_days})")
    for stage, s in st["stages"].items():
        span = f"{s['oldest_day']} … {s['newest_day']}" if s["oldest_day"] else "empty"
        click.echo(f"  {stage:<15} {s['rows']:>12,} rows  {s['bytes'] / 1e6:>9.1f} MB  {span}")
    over, conv = st["overdue_rows"], st["overdue_conversation_records"]
    click.echo(f"  overdue for retention: {over['raw']:,} raw, {over['anonymised']:,} anonymised rows, "
               f"{over['quarantine']:,} quarantined lines; "
               f"conversations {conv['conv_raw']:,} raw, {conv['conv_anonymised']:,} anonymised "
               f"(windows {policy.conversations_raw_days} and {policy.conversations_anonymised_days} days)")  # fmt: skip
    click.echo(f"  files ingested: {st['files_ingested']:,} ({plural(st['lines_ingested'], 'line')})")
    if st["quarantine"]:
        click.echo("  quarantined: " + ", ".join(f"{visible(k)} {v:,}" for k, v in st["quarantine"].items()))
    for h in st["holds"]:
        left = (datetime.fromisoformat(h["expires_at"]) - now).days
        warn = "  ← lapses soon: 'logtool hold extend' if still needed" if left < 7 else ""
        click.echo(f"  hold {h['id']}: active, expires {h['expires_at'][:10]} (in {plural(left, 'day')}){warn}"
                   f" — {visible(h['reason'])}")  # fmt: skip
    if st["restricted_subjects"]:
        click.echo(f"  restricted subjects (Art. 18): {st['restricted_subjects']:,}")
    if st["last_nightly"]:
        click.echo(f"  last nightly run: {st['last_nightly']['finished_at']}")


@click.command()
@format_option(TableFormat, TableFormat.table)
@now_option
@click.option("--repair", is_flag=True, help="Set damaged partitions aside (audited) and make the store owner-only.")
@click.pass_obj
def verify(obj: Ctx, fmt: TableFormat, now: datetime, repair: bool) -> Outcome:
    """Check the whole store against the catalog and the policy; exit 1 listing any problem."""
    from logtool.governance.verify import repair as do_repair
    from logtool.governance.verify import verify as do_verify
    from logtool.store.guard import DAMAGED

    policy = obj.policy().policy
    with obj.open_store(write=repair) as store:
        problems = do_verify(store, policy, now)
        if repair and problems:
            fixed = do_repair(store, problems, now)
            for path in fixed.dropped:
                obj.say(f"verify --repair: set aside {visible(path)} (see {DAMAGED}/ in the store)")
            if fixed.tightened:
                obj.say(f"verify --repair: made {plural(len(fixed.tightened), 'path')} owner-only")
            problems = do_verify(store, policy, now)
    if fmt is TableFormat.json:
        click.echo(json.dumps({"ok": not problems, "problems": [p.to_dict() for p in problems]}, indent=2))
    else:
        for p in problems:
            click.echo(f"{p.kind:<11} {visible(p.where)}: {visible(p.detail)}")
        obj.say("verify: the store is consistent with the catalog and the policy" if not problems
                else f"verify: {plural(len(problems), 'problem')}")  # fmt: skip
    return Outcome(EXIT_FINDINGS if problems else EXIT_OK)


@click.command()
@click.option("--force", is_flag=True, help="Rebuild even when the catalog is sound (restarts the audit chain).")
@now_option
@click.pass_obj
def recover(obj: Ctx, force: bool, now: datetime) -> None:
    """Rebuild a lost or damaged catalog from the store's Parquet files.

    Keeps what the old catalog still yields (holds, restrictions, key, salts, ingested files),
    sets the old catalog aside, moves unreadable or superseded files to damaged/, and starts a
    new audit chain whose first entry says why."""
    from logtool.store.recover import recover as do_recover

    res = do_recover(obj.store_path, now, force)
    obj.say(f"recover: {visible(res.reason)}")
    for stage, n in res.partitions.items():
        obj.say(f"  {stage:<11} {plural(n, 'partition')}, {plural(res.rows[stage], 'row')}")
    for path, why in res.set_aside:
        obj.say(f"  set aside {visible(path)}: {visible(why)}")
    if res.old_catalog:
        obj.say(f"  old catalog kept as {res.old_catalog}")
    lost = [t for t, v in res.salvaged.items() if isinstance(v, str)]
    if res.old_catalog is None or lost:
        what = ", ".join(lost) if lost else "nothing (there was none)"
        obj.say(f"  taken from the old catalog: {'all but ' + what if lost else what}; holds and restrictions may be "
                "missing: check 'logtool hold list'; ingested files are known again from their partitions")  # fmt: skip
    obj.say("  a new audit chain starts with this recovery ('logtool audit list')")


@click.command()
@click.argument("file")
@now_option
@click.pass_obj
def forget(obj: Ctx, file: str, now: datetime) -> None:
    """Undo the ingest of FILE (found by its content): its rows, quarantined lines and
    aggregates are dropped, audited, so it can be ingested again (e.g. with the right --format).

    Refused once retention or an erasure has rewritten the file's days."""
    from logtool.inputs import make_inputs
    from logtool.lifecycle.forget import forget as do_forget

    (inp,) = make_inputs([file])
    with obj.open_store(write=True) as store:
        res = do_forget(store, inp, now)
    rows = ", ".join(f"{plural(n, 'row')} {s}" for s, n in res.rows.items()) or "no rows"
    obj.say(f"forgot {visible(res.name)} (ingested {res.ingested_at[:19]}): {rows}; it can be ingested again")


@click.group()
def audit() -> None:
    """The hash-chained audit trail of every change to the store."""


@audit.command("list")
@click.option("--since", help="Only entries this recent: 24h, 2d, 90m, or an ISO time.")
@format_option(TableFormat, TableFormat.table)
@now_option
@click.pass_obj
def audit_list(obj: Ctx, since: str | None, fmt: TableFormat, now: datetime) -> None:
    """Show audit entries: time, OS user, action, parameters, counts."""
    from logtool.timespec import parse_since

    start = parse_since(since, now) if since else None
    with obj.open_store() as store:
        entries = store.catalog.audit.entries(start.isoformat() if start else None)
    if fmt is TableFormat.json:
        click.echo(json.dumps(entries, indent=2))
        return
    for e in entries:
        click.echo(f"{e['id']:>5} {e['ts'][:19]} {visible(e['os_user']):<10} {e['action']:<14} "
                   f"{visible(e['params'])} {visible(e['counts'])}")  # fmt: skip


@audit.command("verify")
@click.pass_obj
def audit_verify(obj: Ctx) -> Outcome:
    """Recompute the hash chain; exit 1 if an entry was changed, removed or reordered."""
    from logtool.governance.audit import verify_chain

    with obj.open_store() as store:
        res = verify_chain(store)
    if res.ok:
        obj.say(f"audit: {plural(res.entries, 'entry', 'entries')}, chain intact")
        return Outcome(EXIT_OK)
    err(f"audit: chain broken: {res.problem}")
    return Outcome(EXIT_FINDINGS)


@click.group()
def config() -> None:
    """Inspect the effective policy."""


@config.command("show")
@format_option(ConfigFormat, ConfigFormat.toml)
@policy_options("raw_days", "anonymised_days", "ipv4_prefix", "ipv6_prefix", "ip_preset", "geoip_db")
@click.pass_obj
def config_show(obj: Ctx, fmt: ConfigFormat, overrides: dict[str, Any]) -> None:
    """Print the effective policy and where each value comes from."""
    src = obj.policy(**overrides)
    values = src.policy.to_dict()
    if fmt is ConfigFormat.json:
        click.echo(json.dumps({"policy": values, "origins": src.origins, "store": str(obj.store_path)}, indent=2))
        return
    click.echo(f"# store: {obj.store_path}")
    click.echo(f"# config file: {obj.config or '(none)'}")
    click.echo("[policy]")
    docs = describe()
    for k, v in values.items():
        click.echo(f"{k} = {json.dumps(v)}  # {docs[k]} [{src.origins[k]}]")


@click.command()
def formats() -> None:
    """List the log and conversation formats logtool reads, with a sample each."""
    from logtool.parsers import CONV_REGISTRY, REGISTRY

    for name, fmt in [*REGISTRY.items(), *CONV_REGISTRY.items()]:
        click.echo(f"{name:<16} {fmt.description}")
        click.echo(f"{'':<16} {fmt.sample}")


@click.command()
@click.argument("files", nargs=-1, required=True)
def detect(files: tuple[str, ...]) -> Outcome:
    """Print the detected format of each FILE and how much of a sample it parses.

    Every file is tried; a file whose format is unknown or ambiguous is reported on stderr,
    and the exit status is then 3."""
    from logtool.inputs import make_inputs
    from logtool.parsers import detect_input

    failed = False
    for inp in make_inputs(list(files)):
        d = detect_input(inp)
        if d.empty:
            click.echo(f"{visible(d.name)}: empty")
        elif d.error is not None:
            err(f"logtool: error: {visible(d.error)}")
            failed = True
        else:
            assert d.format is not None
            click.echo(
                f"{visible(d.name)}: {d.format.name} ({d.rate:.0%} of {plural(d.sampled, 'sampled line')} parsed)"
            )
    return Outcome(EXIT_INPUT if failed else EXIT_OK)


COMMANDS = [status, verify, audit, config, formats, detect, recover, forget]
