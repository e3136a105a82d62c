"""What every command shares: the context (store, config, quiet), option decorators that spell
each option once, lazily opened outputs, and the one exit-code policy.

Exit codes: a command returns a result; the group maps it (``result.exit_code``, default 0).
Library errors map through their class (:mod:`logtool.errors`), click's usage errors to 2, an
interrupt to 130, an OS error nobody expected (a full disk while writing an output) to 3 or 4,
and anything else — a bug — to 70 with the traceback only under ``LOGTOOL_DEBUG=1``: always
as one line, ``logtool: error: …``, with control characters escaped (messages may quote log text).
"""

from __future__ import annotations

import enum
import errno
import functools
import keyword
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click

from logtool.config import IP_PRESETS, POLICY_FLAGS, PolicySource, load_policy
from logtool.errors import (
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_STORE,
    EXIT_USAGE,
    ConfigError,
    LogtoolError,
    OutputError,
)
from logtool.escape import visible
from logtool.timespec import check_period, parse_day, parse_month, parse_time

E = TypeVar("E", bound=enum.Enum)
F = TypeVar("F", bound=Callable[..., Any])


def default_store() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("logtool"))


def err(msg: str) -> None:
    """A line for the human on stderr (never data); control characters shown escaped."""
    click.echo(visible(msg, newlines=True), err=True)


def settle_heap(one_arena: bool = False) -> None:
    """Once a long command's modules are loaded: keep the objects they made (tens of thousands)
    out of Python's cyclic collector, which otherwise walks them all again and again during
    the run, holding the GIL while the worker threads wait (1M lines, alternating runs: ingest
    2.42 → 2.34 s, anonymize 1.23 → 1.14 s). Process-wide, so only a command calls it, never
    the library.

    ``one_arena``: the threads started from now on share glibc's one heap (unless the user set
    ``MALLOC_ARENA_MAX`` or glibc's ``arena_max`` tunable), so a batch one thread frees is
    reused by the next, whichever thread reads it. Call it before any thread has allocated
    (polars' pool included: no polars work yet), as a thread keeps the heap it has. For
    anonymize (1M lines, three sets of 12–20 alternating runs): the highest peak 210–227 →
    201–210 MiB, the median 199–203 → 190–200 MiB, the time within ±2 %. Ingest's peak at 10M
    lines rose by ~30 MiB with one heap, so ingest keeps a heap per thread."""
    import gc

    gc.freeze()
    chosen = "MALLOC_ARENA_MAX" in os.environ or "arena_max" in os.environ.get("GLIBC_TUNABLES", "")
    if one_arena and not chosen:
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").mallopt(-8, 1)  # M_ARENA_MAX
        except (OSError, AttributeError):
            pass


def wall_clock() -> datetime:
    """The only place logtool reads the clock."""
    return datetime.now(UTC)


class Ctx:
    """Options shared by all commands."""

    def __init__(self, store: Path | None, config: Path | None, quiet: bool) -> None:
        self.store_path = store or default_store()
        self.config = config
        self.quiet = quiet

    def say(self, msg: str) -> None:
        """A summary line on stderr, unless ``--quiet``."""
        if not self.quiet:
            err(msg)

    def policy(self, **overrides: Any) -> PolicySource:
        return load_policy(self.config, overrides={k: v for k, v in overrides.items() if v is not None})

    def open_store(self, write: bool = False):  # type: ignore[no-untyped-def]
        """The store: read-only (never creating anything) unless the command writes."""
        from logtool.store import Store

        if write:
            return Store(self.store_path, create=True)
        return Store(self.store_path, create=False, readonly=True)

    def progress(self) -> Any:
        """A progress display on stderr, or a silent one when stderr is not a terminal or ``--quiet``."""
        from logtool.cli.progress import make_progress

        return make_progress(enabled=not self.quiet and sys.stderr.isatty())


class LogtoolGroup(click.Group):
    """The root group: runs the command and turns whatever happens into one exit code."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:  # fmt: skip
        code = EXIT_OK
        try:
            rv = super().main(args, prog_name or "logtool", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else int(getattr(rv, "exit_code", EXIT_OK))
        except LogtoolError as e:
            err(f"logtool: error: {e}")
            code = e.exit_code
        except click.UsageError as e:
            where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
            err(f"logtool: error: {e.format_message().rstrip('.')}{where}")
            code = EXIT_USAGE
        except click.ClickException as e:
            err(f"logtool: error: {e.format_message()}")
            code = e.exit_code
        except (click.Abort, KeyboardInterrupt):
            err("logtool: interrupted; nothing partial was committed")
            code = EXIT_INTERRUPTED
        except BrokenPipeError:
            code = EXIT_OK  # the reader went away (| head): not an error
        except OSError as e:  # not mapped by the library: where it happened decides the code
            where = f" ({e.filename})" if e.filename else ""
            why = "no space left on device" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            store = bool(e.filename) and str(self._store_of(args)) in str(e.filename)
            err(f"logtool: error: {why}{where}; nothing partial was committed")
            code = EXIT_STORE if store else EXIT_INPUT
        except MemoryError:
            err("logtool: error: out of memory; nothing partial was committed")
            code = EXIT_STORE
        except Exception as e:  # a bug: one line (the traceback with LOGTOOL_DEBUG=1)
            if os.environ.get("LOGTOOL_DEBUG"):
                raise
            err(f"logtool: error: internal error ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                "please report it (LOGTOOL_DEBUG=1 shows the traceback)")  # fmt: skip
            code = EXIT_INTERNAL
        if not standalone_mode:
            return code
        if code == EXIT_INTERRUPTED and threading.active_count() > 1:
            # a reader thread blocked on a pipe holds stdin's lock; interpreter shutdown would
            # wait for it (or abort): everything is rolled back already, so leave at once
            for stream in (sys.stdout, sys.stderr):
                with suppress(Exception):
                    stream.flush()
            os._exit(code)
        sys.exit(code)

    @staticmethod
    def _store_of(args: Any) -> Path:
        argv = list(args if args is not None else sys.argv[1:])
        for i, a in enumerate(argv):
            if a == "--store" and i + 1 < len(argv):
                return Path(argv[i + 1])
            if a.startswith("--store="):
                return Path(a.split("=", 1)[1])
        return Path(os.environ.get("LOGTOOL_STORE") or default_store())


# options ------------------------------------------------------------------------------------
def now_option(f: F) -> F:
    """``--now``: the time the command acts as of (every command spells it the same way)."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime:
        return wall_clock() if value is None else parse_time(value, "--now")

    return click.option("--now", "now", callback=convert, metavar="TIME",
                        help="Act as of this time (ISO 8601; default: now).")(f)  # fmt: skip


def time_option(name: str, help: str, required: bool = False) -> Callable[[F], F]:
    """An ISO 8601 time option whose errors name the flag."""

    def convert(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
        return None if value is None else parse_time(value, name)

    dest = name.lstrip("-").replace("-", "_")
    dest += "_" if keyword.iskeyword(dest) else ""
    return click.option(name, dest, callback=convert, required=required, metavar="TIME", help=help)


def period_options(month: bool = False) -> Callable[[F], F]:
    """``--from DAY`` / ``--to DAY`` (and ``--month YYYY-MM``): a period of whole UTC days,
    passed on as ``date_from`` / ``date_to``."""

    def day(flag: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
        return lambda ctx, param, value: None if value is None else parse_day(value, flag)

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, date_from: str | None, date_to: str | None, **kw: Any) -> Any:
            m = kw.pop("month", None)
            if m is not None:
                if date_from or date_to:
                    raise ConfigError("use either --month or --from/--to")
                date_from, date_to = parse_month(m, "--month")
            check_period(date_from, date_to)
            return f(*args, date_from=date_from, date_to=date_to, **kw)

        out: Any = wrapper
        if month:
            out = click.option("--month", metavar="YYYY-MM", help="A calendar month (instead of --from/--to).")(out)
        out = click.option("--to", "date_to", callback=day("--to"), metavar="DAY", help="Last day (YYYY-MM-DD).")(out)
        out = click.option("--from", "date_from", callback=day("--from"), metavar="DAY",
                           help="First day (YYYY-MM-DD).")(out)  # fmt: skip
        return out  # type: ignore[no-any-return]

    return decorate


class LazyChoice(click.Choice):
    """A choice whose values come from ``load`` when first needed (the command's own help, a
    value to check), so that listing the commands (``logtool --help``) does not import the
    library modules that define them."""

    def __init__(self, load: Callable[[], Iterable[str]]) -> None:
        self._load, self._values = load, None
        super().__init__(())

    @property  # type: ignore[override]
    def choices(self) -> tuple[str, ...]:
        if self._values is None:
            self._values = tuple(self._load())
        return self._values

    @choices.setter
    def choices(self, value: Any) -> None:  # click's __init__ assigns the (empty) placeholder
        pass


def format_option(enum_type: type[E] | Callable[[], type[E]], default: E | str,
                  help: str = "Output format.") -> Callable[[F], F]:  # fmt: skip
    """``--format``: the choices are the members of ``enum_type`` (or of the enum a function
    returns, imported only when needed); the command gets the member."""
    load: Callable[[], type[E]] = (lambda: enum_type) if isinstance(enum_type, type) else enum_type  # type: ignore[assignment,return-value]
    return click.option(
        "--format",
        "fmt",
        type=LazyChoice(lambda: [m.value for m in load()]),
        default=default.value if isinstance(default, enum.Enum) else default,
        show_default=True,
        callback=lambda ctx, param, value: load()(value),
        help=help,
    )


def output_option(help: str = "Write here instead of stdout.", required: bool = False) -> Callable[[F], F]:
    """``-o FILE`` (the command gets ``out_path``): an output file, opened only when there is
    something to write (see :func:`output`)."""
    return click.option("-o", "--output", "out_path", type=click.Path(dir_okay=False, path_type=Path),
                        required=required, help=help)  # fmt: skip


def policy_options(*keys: str) -> Callable[[F], F]:
    """Flags that override the policy file and environment, only those ``keys`` a command uses;
    the command gets one ``overrides`` dict."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kw: Any) -> Any:
            overrides = {k: kw.pop(k, None) for k in keys}
            return f(*args, overrides=overrides, **kw)

        out: Any = wrapper
        for key in reversed(keys):
            names, kind, text = POLICY_FLAGS[key]
            if key == "ip_preset":
                kind = click.Choice(list(IP_PRESETS))
            elif key == "geoip_db":
                kind = click.Path(dir_okay=False)
            out = click.option(*names, key, type=kind, help=text)(out)
        return out  # type: ignore[no-any-return]

    return decorate


# outputs ------------------------------------------------------------------------------------
class LazyOutput:
    """Writes to ``path`` (created on the first write: mode 0600 when ``private``) or to stdout.
    A file is never created by a command that fails before it has anything to write, and a
    file left half-written by a failure is removed."""

    def __init__(self, path: Path | None, binary: bool, private: bool = False) -> None:
        self.path, self.binary, self.private = path, binary, private
        self._f: IO[Any] | None = None

    def _open(self) -> IO[Any]:
        if self._f is None:
            if self.path is None:
                self._f = sys.stdout.buffer if self.binary else sys.stdout
            else:
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if self.private else 0o666)
                except OSError as e:
                    raise OutputError(f"cannot write {self.path}: {e.strerror}") from None
                if self.private:
                    os.fchmod(fd, 0o600)
                self._f = os.fdopen(fd, "wb" if self.binary else "w", **({} if self.binary else {"encoding": "utf-8"}))
        return self._f

    def write(self, data: Any) -> int:
        f = self._open()
        try:
            return f.write(data)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise OutputError(f"cannot write {self.path or 'stdout'}: {_why(e)}") from None

    def flush(self) -> None:
        if self._f is not None:
            try:
                self._f.flush()
            except BrokenPipeError:
                raise
            except OSError as e:
                raise OutputError(f"cannot write {self.path or 'stdout'}: {_why(e)}") from None

    def tell(self) -> int:
        return self._open().tell()

    @property
    def closed(self) -> bool:
        return False

    def close(self, ok: bool = True) -> None:
        if self._f is not None and self.path is not None:
            try:
                self._f.close()
            except OSError as e:
                if ok:
                    self.path.unlink(missing_ok=True)
                    raise OutputError(f"cannot write {self.path}: {_why(e)}") from None
            if not ok:
                self.path.unlink(missing_ok=True)
        elif self._f is not None:
            self._f.flush()
        self._f = None

    @property
    def written(self) -> bool:
        return self._f is not None or (self.path is not None and self.path.exists())


def _why(e: OSError) -> str:
    return "no space left on device" if e.errno in (errno.ENOSPC, errno.EDQUOT) else str(e.strerror or e)


@contextmanager
def output(path: Path | None, binary: bool = False, private: bool = False) -> Iterator[LazyOutput]:
    out = LazyOutput(path, binary, private)
    try:
        yield out
    except BaseException:
        out.close(ok=False)
        raise
    out.close()


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 day``, ``2 days``, ``1,234 rows``."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"
