"""The ``logtool`` command line: a thin hall over the library.

Commands are grouped by what they are for — :mod:`.lifecycle` (ingest, retain, nightly,
anonymize, demo), :mod:`.data` (report, export, review), :mod:`.holds`, :mod:`.subjects` and
:mod:`.admin` (status, verify, audit, config, formats, detect, recover). Each parses its
options, calls the library function of the same name and prints the result; data goes to
stdout, humans to stderr. Exit codes are decided once, in :class:`.common.LogtoolGroup`.
"""

from __future__ import annotations

from pathlib import Path

import click

from logtool import __version__
from logtool.cli import admin, data, holds, lifecycle, subjects
from logtool.cli.common import Ctx, LogtoolGroup
from logtool.config import default_config_file


@click.group("logtool", cls=LogtoolGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="logtool")
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
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summaries on stderr (errors still show).")
@click.pass_context
def cli(ctx: click.Context, store: Path | None, config: Path | None, quiet: bool) -> None:
    """Access logs kept the lawful way: parse, keep detail briefly, anonymise, aggregate, delete."""
    ctx.obj = Ctx(store, config or default_config_file(), quiet)


for _module in (lifecycle, data, holds, subjects, admin):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main() -> None:  # pragma: no cover - console script entry point
    from logtool.pipeline import tune_allocator

    tune_allocator()
    cli(prog_name="logtool")
