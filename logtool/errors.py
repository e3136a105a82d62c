"""One exception hierarchy for the whole library, and its mapping to exit codes.

The library raises these; only ``logtool.cli`` turns them into messages and exit codes.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_STORE = 4
#: An unexpected error (a bug): one line, never a traceback unless LOGTOOL_DEBUG=1 (sysexits EX_SOFTWARE).
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130


class LogtoolError(Exception):
    """Base of every error logtool raises on purpose."""

    exit_code = EXIT_USAGE


class ConfigError(LogtoolError):
    """Bad policy file, environment variable or flag value."""

    exit_code = EXIT_USAGE


class InputError(LogtoolError):
    """An input file is missing, unreadable or in a format we cannot detect."""

    exit_code = EXIT_INPUT


class OutputError(LogtoolError):
    """An output file cannot be written (no space, no permission, a directory in the way)."""

    exit_code = EXIT_INPUT


class StoreError(LogtoolError):
    """The store is unusable: corrupt catalog, unwritable directory, I/O failure."""

    exit_code = EXIT_STORE


class StoreBusyError(StoreError):
    """Another logtool process holds the store's writer lock."""


class DamagedPartitionError(StoreError):
    """A committed partition is missing, truncated or unreadable; ``path`` names it."""

    def __init__(self, stage: str, path: str, why: str) -> None:
        self.stage, self.path, self.why = stage, path, why
        super().__init__(
            f"{stage} partition {path} is damaged ({why}); run 'logtool verify', and 'logtool verify --repair' "
            "to set it aside"
        )
