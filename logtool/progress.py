"""How long work reports its progress: a tiny interface the library calls and the CLI draws.

The library never prints; it tells a :class:`Tick` how much there is (``total``, when known)
and how much is done (``advance``). :data:`SILENT` ignores both.
"""

from __future__ import annotations

from typing import Protocol


class Tick(Protocol):
    def total(self, n: int | None, unit: str = "") -> None:
        """The amount of work (None: unknown), in ``unit`` (``bytes``, ``days`` …)."""

    def advance(self, n: int = 1) -> None:
        """``n`` more units done."""


class _Silent:
    def total(self, n: int | None, unit: str = "") -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


SILENT: Tick = _Silent()
