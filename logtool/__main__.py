"""``python -m logtool``: the same as the ``logtool`` console script."""

from logtool.cli import main

main()
