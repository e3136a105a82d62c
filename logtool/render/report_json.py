"""JSON renderer: the report's full content, stable keys, for machines."""

from __future__ import annotations

import json

from logtool.report import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
