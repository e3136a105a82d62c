"""Data-subject requests (GDPR Art. 15, 17, 18, 20): find, export, erase, restrict, unrestrict."""

from __future__ import annotations

import enum
import functools
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
    """Data-subject requests by IP address, phone number and/or e-mail address, over web logs
    and conversation records: find, export, erase, restrict (GDPR)."""


def _ip_option(f: Any) -> Any:
    """``--ip``, ``--phone``, ``--email`` (at least one): the command gets ``ids`` for the library."""

    @functools.wraps(f)
    def wrapper(*args: Any, ip: str | None, phone: str | None, email: str | None, **kw: Any) -> Any:
        return f(*args, ip=ip, ids={"phone": phone, "email": email}, **kw)

    out: Any = click.option("--email", help="The subject's e-mail address (any case).")(wrapper)
    out = click.option("--phone", help="The subject's phone number (any spelling: +49 30 …, 030-…).")(out)
    return click.option("--ip", "ip", help="The subject's IP address (any spelling).")(out)


def _region(obj: Ctx) -> str:
    return obj.policy().policy.phone_region


@subject.command("find")
@_ip_option
@period_options()
@now_option
@click.pass_obj
def subject_find(obj: Ctx, ip: str | None, ids: dict[str, Any], date_from: str | None, date_to: str | None,
                 now: datetime) -> None:  # fmt: skip
    """Art. 15: what the store holds about a subject, summarised (JSON)."""
    from logtool.governance import subjects

    with obj.open_store() as store:
        res = subjects.find(store, ip, now, date_from, date_to, region=_region(obj), **ids)
    click.echo(json.dumps(res, indent=2))


@subject.command("export")
@_ip_option
@output_option("File to write.", required=True)
@format_option(SubjectFormat, SubjectFormat.json)
@now_option
@click.pass_obj
def subject_export(obj: Ctx, ip: str | None, ids: dict[str, Any], out_path: Path, fmt: SubjectFormat,
                   now: datetime) -> None:  # fmt: skip
    """Art. 15/20: a machine-readable copy of every log row and conversation record of the subject."""
    from logtool.governance import subjects

    region = _region(obj)
    with obj.open_store(write=True) as store, output(out_path, binary=True, private=True) as out:
        n = subjects.export(store, ip, out, fmt.value, now, region=region, **ids)  # type: ignore[arg-type]
    obj.say(f"exported {plural(n, 'row')} linked to the subject to {out_path}")


@subject.command("erase")
@_ip_option
@click.option("--dry-run", is_flag=True, help="Count what would be erased; change nothing.")
@now_option
@click.pass_obj
def subject_erase(obj: Ctx, ip: str | None, ids: dict[str, Any], dry_run: bool, now: datetime) -> None:
    """Art. 17: delete every row linked to the subject, except rows under an active hold."""
    from logtool.governance import subjects

    region = _region(obj)
    with obj.open_store(write=True) as store:
        res = subjects.erase(store, ip, now, dry_run, region=region, **ids)
    verb = "would erase" if dry_run else "erased"
    obj.say(f"{verb} {plural(res.erased_rows, 'row')} of {res.subject}"
            + (f" and {plural(res.erased_records, 'conversation record')}" if res.erased_records else ""))  # fmt: skip
    for hold_id, n in res.kept_by_holds.items():
        obj.say(f"kept {plural(n, 'row')} under hold {hold_id}: {res.legal_ground}")


@subject.command("restrict")
@_ip_option
@now_option
@click.pass_obj
def subject_restrict(obj: Ctx, ip: str | None, ids: dict[str, Any], now: datetime) -> None:
    """Art. 18: keep the subject's rows but leave them out of exports until unrestricted."""
    from logtool.governance import subjects

    region = _region(obj)
    with obj.open_store(write=True) as store:
        obj.say(f"restricted {subjects.restrict(store, ip, now, region=region, **ids)}")


@subject.command("unrestrict")
@_ip_option
@now_option
@click.pass_obj
def subject_unrestrict(obj: Ctx, ip: str | None, ids: dict[str, Any], now: datetime) -> None:
    """Lift a restriction set with 'logtool subject restrict'."""
    from logtool.governance import subjects

    region = _region(obj)
    with obj.open_store(write=True) as store:
        obj.say(f"unrestricted {subjects.restrict(store, ip, now, on=False, region=region, **ids)}")


COMMANDS = [subject]
