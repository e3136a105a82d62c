"""The names of the store's stages (their schemas are in :mod:`logtool.schema`).

Apart from the schemas so that what only names stages (the store's directories, ``status``)
does not load polars.
"""

from __future__ import annotations

#: The conversation family of stages (their own windows; see ``conversations_*`` in the policy).
CONV_STAGES = ("conv_raw", "conv_anonymised", "conv_aggregates")

#: Every stage, web logs first.
STAGES = ("raw", "anonymised", "aggregates", "quarantine", *CONV_STAGES)

#: The stages with a retention window (``Policy.kept_days``), web logs' and conversations'
#: apart; aggregates are kept for good.
WINDOWED_LOG_STAGES = ("raw", "anonymised", "quarantine")
WINDOWED_CONV_STAGES = ("conv_raw", "conv_anonymised")
