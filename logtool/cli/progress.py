"""Progress bars on stderr (rich): a total and the time left when the size is known, a spinner
and a count otherwise; nothing at all when stderr is not a terminal or under ``--quiet``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from logtool.progress import SILENT, Tick


class _Bar:
    def __init__(self, progress: Any, label: str) -> None:
        self.progress, self.label = progress, label
        self.task = progress.add_task(label, total=None)

    def total(self, n: int | None, unit: str = "") -> None:
        self.progress.update(self.task, total=n)

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)


@contextmanager
def bar(enabled: bool, label: str, byte_units: bool = False) -> Iterator[Tick]:
    """A :class:`~logtool.progress.Tick` drawing one bar while the block runs."""
    if not enabled:
        yield SILENT
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    count = DownloadColumn() if byte_units else MofNCompleteColumn()
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), count, TimeElapsedColumn(),
               TextColumn("left"), TimeRemainingColumn()]  # fmt: skip
    with Progress(*columns, transient=True, console=Console(stderr=True)) as p:
        yield _Bar(p, label)


def make_progress(enabled: bool) -> Any:
    """``progress(label, byte_units=False)`` → a context manager yielding a Tick."""
    return lambda label, byte_units=False: bar(enabled, label, byte_units)
