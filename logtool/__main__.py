"""The ``logtool`` console script and ``python -m logtool``.

The command line is imported here, inside the interrupt guard: a Ctrl-C while Python is still
loading polars and pyarrow exits 130 with the one-line message, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:  # pragma: no cover - console script entry point
    try:
        from logtool.cli import main as run
    except KeyboardInterrupt:
        sys.stderr.write("logtool: interrupted; nothing partial was committed\n")
        sys.exit(130)
    run()


if __name__ == "__main__":
    main()
