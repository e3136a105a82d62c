"""JSON renderer: the report's full content, stable keys, for machines."""

from __future__ import annotations

import json

from logtool.report import Report


def render(report: Report) -> str:
    # ASCII-escaped: C1 controls and bidi overrides in keys would reach a terminal raw otherwise
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=True) + "\n"
