"""Anonymisation: IP truncation (:mod:`.ip`), field coarsening and PII redaction (:mod:`.fields`)."""
