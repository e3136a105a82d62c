"""The ``logtool`` command line: a thin hall over the library.

Commands are grouped by what they are for — :mod:`.lifecycle` (ingest, retain, nightly,
anonymize, demo), :mod:`.data` (report, export, review), :mod:`.holds`, :mod:`.subjects` and
:mod:`.admin` (status, verify, audit, config, formats, detect, recover). Each parses its
options, calls the library function of the same name and prints the result; data goes to
stdout, humans to stderr. Exit codes are decided once, in :class:`.common.LogtoolGroup`.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import click

from logtool import __version__
from logtool.cli.common import Ctx, LogtoolGroup
from logtool.config import default_config_file

#: The modules of :mod:`logtool.cli` that hold commands (each lists them in ``COMMANDS``).
MODULES = ("lifecycle", "data", "holds", "subjects", "admin")
#: Where each command lives, so that running one imports only its module (start-up time: a
#: no-op command should not load every renderer). A command missing here is still found — by
#: importing every module — and ``tests/test_cli.py`` keeps this map complete.
WHERE = {
    "ingest": "lifecycle", "retain": "lifecycle", "nightly": "lifecycle", "anonymize": "lifecycle",
    "demo": "lifecycle", "report": "data", "export": "data", "review": "data", "hold": "holds",
    "subject": "subjects", "status": "admin", "verify": "admin", "audit": "admin", "config": "admin",
    "formats": "admin", "detect": "admin", "recover": "admin", "forget": "admin",
}  # fmt: skip


def _commands(module: str) -> dict[str, click.Command]:
    mod = importlib.import_module(f"logtool.cli.{module}")
    return {c.name: c for c in mod.COMMANDS if c.name}


class LazyGroup(LogtoolGroup):
    """The root group, importing a command's module only when the command runs. ``commands``
    (every command, for help and for tests) imports all of them."""

    _extra: dict[str, click.Command]
    _all: dict[str, click.Command] | None = None

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        if self._all is None:
            self._all = {name: cmd for m in MODULES for name, cmd in _commands(m).items()} | self._extra
        return self._all

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self._extra, self._all = dict(value), None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if self._all is None and name in WHERE and (cmd := _commands(WHERE[name]).get(name)) is not None:
            return cmd
        return self.commands.get(name)


@click.group("logtool", cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


#: polars' allocator (jemalloc) with one arena instead of four per core: its threads (two
#: workers, a writer, polars' own) then reuse one another's freed memory. Measured on the bench
#: log: ingest 535 -> 497 MiB at 1M lines, 651 -> 620 MiB at 10M (and ~5 % faster there),
#: anonymize 442 -> 406 MiB, same time.
JEMALLOC_CONF = "narenas:1"
#: pyarrow's allocator for the Parquet writer: glibc's (with the thresholds below) instead of
#: its bundled mimalloc, which kept what it freed. Measured on the bench log: ingest 409 -> 379
#: MiB at 1M lines, 480 -> 457 MiB at 10M, and 2-4 % faster.
ARROW_POOL = "system"


def tune_allocator() -> None:
    """Keep glibc from unmapping and re-faulting the large per-batch buffers on every batch,
    give polars' allocator one arena (:data:`JEMALLOC_CONF`) and pyarrow glibc's allocator
    (:data:`ARROW_POOL`), unless the user set them.

    Python's large ``bytes`` (12–32 MiB reads, encoded output) go through ``malloc``; above the
    mmap threshold each one is a fresh ``mmap`` whose pages fault in again, which showed up as
    ~1 s of system time per million lines. Raising the thresholds makes freed buffers reusable.
    (One glibc arena for every thread, ``M_ARENA_MAX=1``, saved ~20 MiB at 1M lines but cost
    ingest ~27 MiB at 10M, over its 512 MiB: not set.)
    jemalloc reads its setting when polars loads, pyarrow when it first allocates; the CLI
    loads them only once a command runs.
    Process-wide, so only the CLI entry point calls it; glibc's part is a no-op where it is absent.
    """
    os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", ARROW_POOL)
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 512 * 1024 * 1024)
        libc.mallopt(m_trim_threshold, 1024 * 1024 * 1024)
    except (OSError, AttributeError):
        pass


def main() -> None:  # pragma: no cover - console script entry point
    tune_allocator()
    cli(prog_name="logtool")
