"""Data-subject requests (GDPR Art. 15, 17, 18, 20): find, export, erase, restrict, unrestrict."""

from __future__ import annotations

import enum
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from logtool.cli.common import Ctx, format_option, now_option, output, output_option, period_options, plural


class SubjectFormat(enum.StrEnum):
    json = "json"
    csv = "csv"


@click.group()
def subject() -> None:
    """Data-subject requests for one IP address: find, export, erase, restrict (GDPR)."""


def _ip_option(f: Any) -> Any:
    return click.option("--ip", "ip", required=True, help="The subject's IP address (any spelling).")(f)


@subject.command("find")
@_ip_option
@period_options()
@now_option
@click.pass_obj
def subject_find(obj: Ctx, ip: str, date_from: str | None, date_to: str | None, now: datetime) -> None:
    """Art. 15: what the store holds about an address, summarised (JSON)."""
    from logtool.governance import subjects

    with obj.open_store() as store:
        res = subjects.find(store, ip, now, date_from, date_to)
    click.echo(json.dumps(res, indent=2))


@subject.command("export")
@_ip_option
@output_option("File to write.", required=True)
@format_option(SubjectFormat, SubjectFormat.json)
@now_option
@click.pass_obj
def subject_export(obj: Ctx, ip: str, out_path: Path, fmt: SubjectFormat, now: datetime) -> None:
    """Art. 15/20: a machine-readable copy of every row linked to the address."""
    from logtool.governance import subjects

    with obj.open_store(write=True) as store, output(out_path, binary=True, private=True) as out:
        n = subjects.export(store, ip, out, fmt.value, now)  # type: ignore[arg-type]
    obj.say(f"exported {plural(n, 'row')} linked to the address to {out_path}")


@subject.command("erase")
@_ip_option
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
@now_option
@click.pass_obj
def subject_erase(obj: Ctx, ip: str, dry_run: bool, now: datetime) -> None:
    """Art. 17: delete every row linked to the address, except rows under an active hold."""
    from logtool.governance import subjects

    with obj.open_store(write=True) as store:
        res = subjects.erase(store, ip, now, dry_run)
    verb = "would erase" if dry_run else "erased"
    obj.say(f"{verb} {plural(res.erased_rows, 'row')} of {res.subject}")
    for hold_id, n in res.kept_by_holds.items():
        obj.say(f"kept {plural(n, 'row')} under hold {hold_id}: {res.legal_ground}")


@subject.command("restrict")
@_ip_option
@now_option
@click.pass_obj
def subject_restrict(obj: Ctx, ip: str, now: datetime) -> None:
    """Art. 18: keep the address's rows but leave them out of exports until unrestricted."""
    from logtool.governance import subjects

    with obj.open_store(write=True) as store:
        obj.say(f"restricted {subjects.restrict(store, ip, now)}")


@subject.command("unrestrict")
@_ip_option
@now_option
@click.pass_obj
def subject_unrestrict(obj: Ctx, ip: str, now: datetime) -> None:
    """Lift a restriction set with 'logtool subject restrict'."""
    from logtool.governance import subjects

    with obj.open_store(write=True) as store:
        obj.say(f"unrestricted {subjects.restrict(store, ip, now, on=False)}")


COMMANDS = [subject]
