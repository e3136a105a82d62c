"""Incident holds: create, list, show, extend, release, export, verify-bundle."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from logtool.cli.common import Ctx, err, now_option, plural, time_option
from logtool.errors import EXIT_FINDINGS, EXIT_OK
from logtool.render.text import visible


@click.group()
def hold() -> None:
    """Incident holds: keep matching rows as evidence past their retention window."""


def _print_hold(h: Any, now: datetime) -> None:
    d = h.to_dict(now)
    nets = ", ".join(d["networks"]) or "all clients"
    click.echo(
        f"{d['id']:<12} {d['state']:<8} {d['from']} … {d['to'] or 'open'}  {nets}  "
        f"expires {d['expires_at']}  — {visible(d['reason'])}"
    )


@hold.command("create")
@click.argument("hold_id")
@click.option("--reason", required=True, help="Why the data is kept (the legal ground).")
@time_option("--from", "Start of the incident window (ISO 8601).", required=True)
@time_option("--to", "End of the window (ISO 8601); open-ended if omitted.")
@click.option("--network", "networks", multiple=True, help="Only clients in this address or CIDR (repeatable).")
@time_option("--expires", "When the hold lapses by itself (default: 90 days from now).")
@now_option
@click.pass_obj
def hold_create(obj: Ctx, hold_id: str, reason: str, from_: datetime, to: datetime | None, networks: tuple[str, ...],
                expires: datetime | None, now: datetime) -> None:  # fmt: skip
    """Create a hold: retention spares the rows it matches until it is released or expires."""
    from logtool.governance import holds

    with obj.open_store(write=True) as store:
        h = holds.create(store, hold_id, reason, from_, now, to, list(networks), expires)
    _print_hold(h, now)


@hold.command("list")
@now_option
@click.pass_obj
def hold_list(obj: Ctx, now: datetime) -> None:
    """All holds with their state (active, expired, released)."""
    from logtool.governance import holds

    with obj.open_store() as store:
        for h in holds.all_holds(store):
            _print_hold(h, now)


@hold.command("show")
@click.argument("hold_id")
@now_option
@click.pass_obj
def hold_show(obj: Ctx, hold_id: str, now: datetime) -> None:
    """One hold in full, as JSON."""
    from logtool.governance import holds

    with obj.open_store() as store:
        click.echo(json.dumps(holds.get(store, hold_id).to_dict(now), indent=2))


@hold.command("extend")
@click.argument("hold_id")
@time_option("--expires", "New expiry time (ISO 8601).", required=True)
@now_option
@click.pass_obj
def hold_extend(obj: Ctx, hold_id: str, expires: datetime, now: datetime) -> None:
    """Move a hold's expiry."""
    from logtool.governance import holds

    with obj.open_store(write=True) as store:
        _print_hold(holds.extend(store, hold_id, expires, now), now)


@hold.command("release")
@click.argument("hold_id")
@now_option
@click.pass_obj
def hold_release(obj: Ctx, hold_id: str, now: datetime) -> None:
    """Release a hold: the next 'logtool retain' processes its rows normally."""
    from logtool.governance import holds

    with obj.open_store(write=True) as store:
        _print_hold(holds.release(store, hold_id, now), now)


@hold.command("export")
@click.argument("hold_id")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="New folder for the evidence bundle.")  # fmt: skip
@now_option
@click.pass_obj
def hold_export(obj: Ctx, hold_id: str, out_dir: Path, now: datetime) -> None:
    """Write an evidence bundle: matched rows (Parquet, CSV), the hold, a SHA-256 manifest."""
    from logtool.governance.bundle import export_bundle

    with obj.open_store(write=True) as store:
        m = export_bundle(store, hold_id, out_dir, now)
    obj.say(f"evidence bundle for {hold_id}: {plural(int(m['rows']), 'row')}, "  # type: ignore[call-overload]
            f"{plural(len(m['sha256']), 'file')} + manifest in {out_dir}")  # type: ignore[arg-type]  # fmt: skip


class BundleCheck:
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    @property
    def exit_code(self) -> int:
        return EXIT_FINDINGS if self.problems else EXIT_OK


@hold.command("verify-bundle")
@click.argument("bundle", type=click.Path(file_okay=False, path_type=Path))
def hold_verify_bundle(bundle: Path) -> BundleCheck:
    """Check every file of an evidence bundle against its manifest; exit 1 on any difference."""
    from logtool.governance.bundle import verify_bundle

    problems = verify_bundle(bundle)
    for p in problems:
        click.echo(visible(p))
    err(f"verify-bundle: {plural(len(problems), 'problem')} in {bundle}" if problems
        else f"verify-bundle: {bundle} is intact")  # fmt: skip
    return BundleCheck(problems)


COMMANDS = [hold]
