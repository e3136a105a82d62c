"""Detectors over DataFrames (no I/O): signatures per request, behaviour per client, findings."""
